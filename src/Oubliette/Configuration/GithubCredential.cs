namespace Oubliette.Configuration;

public sealed record GithubCredential(string Token, string? Description);
