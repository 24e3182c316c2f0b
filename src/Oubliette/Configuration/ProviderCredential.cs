namespace Oubliette.Configuration;

/// <summary>A model provider account. <see cref="Kind"/> is anthropic, openai or openai-compatible.</summary>
public sealed record ProviderCredential(string Kind, string ApiKey, string? BaseUrl, string? Description);
