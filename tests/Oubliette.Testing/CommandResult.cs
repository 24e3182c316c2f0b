namespace Oubliette.Testing;

public sealed record CommandResult(int ExitCode, string Output, string Error);
