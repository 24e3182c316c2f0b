namespace Oubliette.Configuration;

/// <summary>A model alias. <see cref="Provider"/> names an entry of <c>credentials.providers.credentials</c>.</summary>
public sealed record ModelConfig(
    string Model,
    string Provider,
    string? DisplayName,
    string? BaseUrl,
    int? MaxOutputTokens,
    IReadOnlyDictionary<string, string> ExtraHeaders,
    ModelCost Cost);
