namespace Oubliette.Mcp;

public sealed record CredentialNames(IReadOnlyList<string> Github, string? GithubDefault, IReadOnlyList<ProviderName> Providers, string? ProvidersDefault);
