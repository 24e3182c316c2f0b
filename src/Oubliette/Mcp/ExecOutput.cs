namespace Oubliette.Mcp;

public sealed record ExecOutput(string Stdout, string Stderr, long ExitCode, long TruncatedBytes);
