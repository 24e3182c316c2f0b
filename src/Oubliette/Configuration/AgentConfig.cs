namespace Oubliette.Configuration;

/// <summary>Agent defaults. Autonomy and reasoning are off, low, medium or high.</summary>
public sealed record AgentConfig(string? Model, string Autonomy, string Reasoning);
