namespace Oubliette.Configuration;

public sealed record ModelsConfig(IReadOnlyDictionary<string, ModelConfig> Models, string? SessionModel);
