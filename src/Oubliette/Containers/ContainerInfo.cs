namespace Oubliette.Containers;

/// <summary>What the engine reports about a container.</summary>
public sealed record ContainerInfo(
    string Id,
    string Name,
    string Image,
    string State,
    bool Running,
    DateTimeOffset? StartedAt,
    IReadOnlyDictionary<string, string> Labels,
    string User,
    IReadOnlyList<BindMount> Mounts,
    long MemoryBytes,
    long NanoCpus,
    long PidsLimit,
    string Network,
    IReadOnlyList<string> CapDrop,
    IReadOnlyList<string> SecurityOptions,
    bool Privileged)
{
    /// <summary>The id (<c>sha256:…</c>) of the image the container was created from; empty when unknown.</summary>
    public string ImageId { get; init; } = "";
}
