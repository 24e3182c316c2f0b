namespace Oubliette.Containers;

/// <summary>
/// The container engine as Oubliette needs it. The Docker implementation lives in <c>Containers/Docker</c>;
/// nothing else touches the engine.
/// </summary>
public interface IContainerRuntime
{
    /// <summary>Throws with a readable reason when the engine does not answer.</summary>
    Task PingAsync(CancellationToken cancellationToken);

    /// <summary>The container with this name or id, or null when there is none.</summary>
    Task<ContainerInfo?> InspectAsync(string nameOrId, CancellationToken cancellationToken);

    Task<string> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken);

    Task StartAsync(string nameOrId, CancellationToken cancellationToken);

    Task StopAsync(string nameOrId, TimeSpan grace, CancellationToken cancellationToken);

    /// <summary>Removes the container, running or not; a missing container is not an error.</summary>
    Task RemoveAsync(string nameOrId, CancellationToken cancellationToken);

    Task<IReadOnlyList<ContainerInfo>> ListByLabelAsync(string label, string value, CancellationToken cancellationToken);

    Task<ExecResult> ExecAsync(string nameOrId, ExecRequest request, CancellationToken cancellationToken);

    /// <summary>Starts a long-running process in the container and returns at once (<c>docker exec -d</c>).</summary>
    Task ExecDetachedAsync(string nameOrId, IReadOnlyList<string> command, string user, IReadOnlyList<string> environment, CancellationToken cancellationToken);

    Task<ContainerLogs> LogsAsync(string nameOrId, int? tail, DateTimeOffset? since, CancellationToken cancellationToken);

    /// <summary>The image's labels, or null when the image does not exist.</summary>
    Task<IReadOnlyDictionary<string, string>?> InspectImageLabelsAsync(string image, CancellationToken cancellationToken);

    /// <summary>The image's id (<c>sha256:…</c>), or null when the image does not exist.</summary>
    Task<string?> ImageIdAsync(string image, CancellationToken cancellationToken);

    /// <summary>Imports a root filesystem tarball as an image (<c>docker import</c>).</summary>
    Task ImportImageAsync(Stream rootfsTar, string repository, string tag, CancellationToken cancellationToken);

    /// <summary>Builds an image from a tarred context with a Dockerfile, without network access.</summary>
    Task BuildImageAsync(Stream context, string tag, IReadOnlyDictionary<string, string> labels, IReadOnlyDictionary<string, string> buildArguments,
        IProgress<string> progress, CancellationToken cancellationToken);
}
