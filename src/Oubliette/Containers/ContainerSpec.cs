namespace Oubliette.Containers;

/// <summary>Everything a project container is created with.</summary>
public sealed record ContainerSpec(
    string Name,
    string Image,
    string User,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyList<BindMount> Mounts,
    long MemoryBytes,
    long NanoCpus,
    long PidsLimit,
    string Network,
    IReadOnlyList<string> Environment);
