namespace Oubliette.Mcp;

public sealed record LogsOutput(string Stdout, string Stderr, long TruncatedBytes);
