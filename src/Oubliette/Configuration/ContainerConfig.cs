namespace Oubliette.Configuration;

public sealed record ContainerConfig(string Type, string Memory, long MemoryBytes, double Cpus, string Network);
