namespace Oubliette.Containers;

public sealed record ContainerLogs(string Stdout, string Stderr, long TruncatedBytes);
