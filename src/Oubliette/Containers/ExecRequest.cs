namespace Oubliette.Containers;

/// <summary>A shell command run in a container as <see cref="User"/>, killed when it outlives <see cref="Timeout"/>.</summary>
public sealed record ExecRequest(string Command, string User, string WorkingDirectory, TimeSpan Timeout);
