using Oubliette.Errors;

namespace Oubliette.Configuration;

/// <summary>
/// The model <c>oubliette init</c> configures from the environment on a first run, so that the first session works
/// without editing the config: every provider key found becomes a provider credential, and the first of
/// <c>OUBLIETTE_MODEL_BASE_URL</c> (an OpenAI-compatible endpoint; key <c>OUBLIETTE_MODEL_API_KEY</c>, default "none"),
/// <c>ANTHROPIC_API_KEY</c>, <c>OPENAI_API_KEY</c> becomes the model alias <see cref="Alias"/> and
/// <c>defaults.agent.model</c>. <c>OUBLIETTE_MODEL</c> names its model (required with a base URL). The keys go only into
/// the 0600 config: <see cref="Describe"/> never shows them.
/// </summary>
public sealed record FirstRunModel(IReadOnlyList<FirstRunCredential> Credentials, string DefaultCredential, string Model)
{
    public const string Alias = "default";
    public const string AnthropicKeyVariable = "ANTHROPIC_API_KEY";
    public const string OpenAiKeyVariable = "OPENAI_API_KEY";
    public const string BaseUrlVariable = "OUBLIETTE_MODEL_BASE_URL";
    public const string BaseUrlKeyVariable = "OUBLIETTE_MODEL_API_KEY";
    public const string ModelVariable = "OUBLIETTE_MODEL";
    public const string DefaultAnthropicModel = "claude-sonnet-4-5";
    public const string DefaultOpenAiModel = "gpt-5";

    /// <summary>The model the environment asks for, null when it names none; a clear error for an unusable combination.</summary>
    public static FirstRunModel? FromEnvironment(Func<string, string?> environment)
    {
        string? Value(string name) => environment(name) is { } value && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

        var credentials = new List<FirstRunCredential>();
        string? defaultModel = null;
        if (Value(BaseUrlVariable) is { } baseUrl)
        {
            if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var parsed) || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps))
            {
                throw new InvalidArgumentException($"{BaseUrlVariable} '{baseUrl}' is not an http(s) URL (e.g. http://127.0.0.1:11434/v1)");
            }

            defaultModel = Value(ModelVariable)
                ?? throw new InvalidArgumentException($"{BaseUrlVariable} is set but {ModelVariable} is not: name the model the endpoint serves (e.g. {ModelVariable}=llama3.1)");
            credentials.Add(new FirstRunCredential("local", "openai-compatible", Value(BaseUrlKeyVariable) ?? "none", baseUrl, BaseUrlVariable));
        }

        if (Value(AnthropicKeyVariable) is { } anthropicKey)
        {
            credentials.Add(new FirstRunCredential("anthropic", "anthropic", anthropicKey, null, AnthropicKeyVariable));
            defaultModel ??= Value(ModelVariable) ?? DefaultAnthropicModel;
        }

        if (Value(OpenAiKeyVariable) is { } openAiKey)
        {
            credentials.Add(new FirstRunCredential("openai", "openai", openAiKey, null, OpenAiKeyVariable));
            defaultModel ??= Value(ModelVariable) ?? DefaultOpenAiModel;
        }

        return defaultModel is null ? null : new FirstRunModel(credentials, credentials[0].Name, defaultModel);
    }

    /// <summary>What was configured, for the operator: names and sources only, never a key.</summary>
    public string Describe() =>
        $"model alias '{Alias}' = {Model} through credential '{DefaultCredential}' (defaults.agent.model); provider credentials: "
        + string.Join(", ", Credentials.Select(credential => $"'{credential.Name}' from ${credential.SourceVariable}"));
}

/// <summary>One provider credential for <c>credentials.providers.credentials</c>, and the variable it came from.</summary>
public sealed record FirstRunCredential(string Name, string Provider, string ApiKey, string? BaseUrl, string SourceVariable);
