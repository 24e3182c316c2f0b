using System.Collections.Concurrent;
using Oubliette.Containers;

namespace Oubliette.Testing;

/// <summary>An in-memory container engine: containers exist and run as told; <see cref="Failure"/> makes every call fail.</summary>
public sealed class FakeContainerRuntime : IContainerRuntime
{
    private readonly ConcurrentDictionary<string, ContainerInfo> _containers = new(StringComparer.Ordinal);

    /// <summary>When set, every call throws it (the engine is down).</summary>
    public Exception? Failure { get; set; }

    public int RemoveCalls { get; private set; }

    /// <summary>Every container spec created, oldest first.</summary>
    public ConcurrentQueue<ContainerSpec> Created { get; } = new();

    /// <summary>
    /// Image ids by tag; a tag not listed has the id <c>sha256:&lt;tag&gt;</c>. Change one to "rebuild" the image; null
    /// means the image is not built.
    /// </summary>
    public ConcurrentDictionary<string, string?> ImageIds { get; } = new(StringComparer.Ordinal);

    private string? ImageIdOf(string image) => ImageIds.TryGetValue(image, out var id) ? id : $"sha256:{image}";

    /// <summary>Called with each detached command (how the runtime starts an agent), so that a test can play the process.</summary>
    public Action<IReadOnlyList<string>>? OnExecDetached { get; set; }

    public Task PingAsync(CancellationToken cancellationToken) => CheckAsync(Task.CompletedTask);

    public Task<ContainerInfo?> InspectAsync(string nameOrId, CancellationToken cancellationToken) =>
        ResultAsync(Task.FromResult(_containers.TryGetValue(nameOrId, out var info) ? info : null));

    public Task<string> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken)
    {
        _containers[spec.Name] = new ContainerInfo(spec.Name, spec.Name, spec.Image, "created", false, null, spec.Labels, spec.User, spec.Mounts,
            spec.MemoryBytes, spec.NanoCpus, spec.PidsLimit, spec.Network, ["ALL"], ["no-new-privileges"], false)
        {
            ImageId = ImageIdOf(spec.Image) ?? "",
        };
        Created.Enqueue(spec);
        return ResultAsync(Task.FromResult(spec.Name));
    }

    public Task StartAsync(string nameOrId, CancellationToken cancellationToken) => CheckAsync(SetStateAsync(nameOrId, "running", true));

    public Task StopAsync(string nameOrId, TimeSpan grace, CancellationToken cancellationToken) => CheckAsync(SetStateAsync(nameOrId, "exited", false));

    /// <summary>As <c>docker pause</c> does: still running, frozen.</summary>
    public Task PauseAsync(string nameOrId) => SetStateAsync(nameOrId, "paused", true);

    public Task RemoveAsync(string nameOrId, CancellationToken cancellationToken)
    {
        RemoveCalls++;
        _containers.TryRemove(nameOrId, out _);
        return CheckAsync(Task.CompletedTask);
    }

    public Task<IReadOnlyList<ContainerInfo>> ListByLabelAsync(string label, string value, CancellationToken cancellationToken) =>
        ResultAsync(Task.FromResult<IReadOnlyList<ContainerInfo>>([.. _containers.Values.Where(info => info.Labels.TryGetValue(label, out var found) && found == value)]));

    public Task<ExecResult> ExecAsync(string nameOrId, ExecRequest request, CancellationToken cancellationToken) =>
        ResultAsync(Task.FromResult(new ExecResult("", "", 0, false, 0)));

    public Task ExecDetachedAsync(string nameOrId, IReadOnlyList<string> command, string user, IReadOnlyList<string> environment, CancellationToken cancellationToken)
    {
        if (Failure is null)
        {
            OnExecDetached?.Invoke(command);
        }

        return CheckAsync(Task.CompletedTask);
    }

    public Task<ContainerLogs> LogsAsync(string nameOrId, int? tail, DateTimeOffset? since, CancellationToken cancellationToken) =>
        ResultAsync(Task.FromResult(new ContainerLogs("", "", 0)));

    public Task<IReadOnlyDictionary<string, string>?> InspectImageLabelsAsync(string image, CancellationToken cancellationToken) =>
        ResultAsync(Task.FromResult<IReadOnlyDictionary<string, string>?>(new Dictionary<string, string>()));

    public Task<string?> ImageIdAsync(string image, CancellationToken cancellationToken) => ResultAsync(Task.FromResult(ImageIdOf(image)));

    public Task ImportImageAsync(Stream rootfsTar, string repository, string tag, CancellationToken cancellationToken) => CheckAsync(Task.CompletedTask);

    public Task BuildImageAsync(Stream context, string tag, IReadOnlyDictionary<string, string> labels, IReadOnlyDictionary<string, string> buildArguments,
        IProgress<string> progress, CancellationToken cancellationToken) => CheckAsync(Task.CompletedTask);

    private Task SetStateAsync(string name, string state, bool running)
    {
        if (_containers.TryGetValue(name, out var info))
        {
            _containers[name] = info with { State = state, Running = running };
        }

        return Task.CompletedTask;
    }

    private Task<T> ResultAsync<T>(Task<T> result) => Failure is { } failure ? Task.FromException<T>(failure) : result;

    private Task CheckAsync(Task result) => Failure is { } failure ? Task.FromException(failure) : result;
}
