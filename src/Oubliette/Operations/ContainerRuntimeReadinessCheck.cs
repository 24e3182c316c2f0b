using Oubliette.Containers;

namespace Oubliette.Operations;

/// <summary>Ready when the container engine answers a ping.</summary>
public sealed class ContainerRuntimeReadinessCheck(IContainerRuntime runtime) : IReadinessCheck
{
    public string Name => "container_runtime";

    public Task CheckAsync(CancellationToken cancellationToken) => runtime.PingAsync(cancellationToken);
}
