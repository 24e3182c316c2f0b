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
    IReadOnlyList<string> Environment)
{
    /// <summary>The container's main process, replacing the image's entrypoint and command (empty: the image's own).</summary>
    public IReadOnlyList<string> Command { get; init; } = [];

    /// <summary>Run the engine's own init (<c>docker run --init</c>, a read-only binary of the host) as PID 1 above <see cref="Command"/>.</summary>
    public bool Init { get; init; }

    /// <summary>Size at which the engine rotates the container's log (<c>json-file</c> <c>max-size</c>); 0 leaves the engine's default driver and options.</summary>
    public long LogMaxBytes { get; init; }

    /// <summary>Log files kept (<c>max-file</c>), with <see cref="LogMaxBytes"/>.</summary>
    public int LogMaxFiles { get; init; } = 1;
}
