namespace Oubliette.Auth;

/// <summary>Who is calling: the token's public id, its name and its scope. Never the secret.</summary>
public sealed record Caller(string TokenId, string TokenName, TokenScope Scope);
