namespace Oubliette.Mcp;

public sealed record ProviderName(string Name, string Provider);
