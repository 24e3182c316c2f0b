namespace Oubliette.Containers;

/// <summary>The outcome of an exec; output past the cap is cut and counted in <see cref="TruncatedBytes"/>.</summary>
public sealed record ExecResult(string Stdout, string Stderr, long ExitCode, bool TimedOut, long TruncatedBytes);
