namespace Oubliette.Configuration;

public sealed record CredentialsConfig
{
    public required IReadOnlyDictionary<string, GithubCredential> Github { get; init; }
    public string? GithubDefault { get; init; }
    public required IReadOnlyDictionary<string, ProviderCredential> Providers { get; init; }
    public string? ProvidersDefault { get; init; }
}
