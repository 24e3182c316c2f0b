namespace Oubliette.Mcp;

public sealed record ModelOption(string Alias, string Model, string Provider, string? DisplayName);
