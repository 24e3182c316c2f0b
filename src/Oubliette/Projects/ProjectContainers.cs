using Oubliette.Configuration;
using Oubliette.Containers;
using Oubliette.Errors;
using Oubliette.Operations;

namespace Oubliette.Projects;

/// <summary>
/// One container per project, named <c>oubliette-&lt;project-id&gt;</c> and labelled as ours. Created from the project's
/// settings when missing (also when removed behind our back), started when stopped, never privileged.
/// </summary>
public sealed partial class ProjectContainers(
    IContainerRuntime runtime,
    ProjectPaths paths,
    OublietteConfig config,
    ContainerLabelSet extraLabels,
    ILogger<ProjectContainers> logger)
{
    public const string ManagedLabel = "oubliette.managed";
    public const string ProjectLabel = "oubliette.project";
    public const string AgentUser = "gogol";
    public const uint AgentUid = 1000;
    // Container-side paths never contain "oubliette": the runbook's `kill -TERM $(pgrep -f oubliette)` must reach the
    // server only, never the relays in agent containers (host processes see container command lines).
    public const string GatewayMountPoint = "/run/gateway";
    public const string RunMountPoint = "/run/agent";
    public const string AgentConfigMountPoint = "/run/agent-config";
    public const string AgentSocketMountPoint = "/run/agent-socket";
    private const long PidsLimit = 1024;
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(5);

    public static string NameOf(Guid projectId) => $"oubliette-{projectId:D}";

    public string ImageOf(ProjectMetadata project) =>
        config.Containers.TryGetValue(project.ContainerType, out var image)
            ? image
            : throw new InvalidArgumentException($"container_type '{project.ContainerType}' is not configured (allowed: {string.Join(", ", config.Containers.Keys)})");

    public async Task<ContainerStatus> StatusAsync(Guid projectId, CancellationToken cancellationToken) =>
        ToStatus(projectId, await runtime.InspectAsync(NameOf(projectId), cancellationToken));

    /// <summary>Creates the container when it does not exist and starts it when it is not running.</summary>
    public async Task<ContainerStatus> EnsureRunningAsync(ProjectMetadata project, CancellationToken cancellationToken)
    {
        var name = NameOf(project.Id);
        var info = await runtime.InspectAsync(name, cancellationToken);
        if (info is { State: "paused" })
        {
            // Anything sent to a frozen container waits for ever: say so instead.
            throw new ConflictException(PausedMessage(name));
        }

        if (info is not null && !HasCurrentMounts(info))
        {
            // Made by an older version (without the gateway mount, or with the agent's config and socket in its own
            // writable run folder): replace it (the workspaces live on the host).
            await runtime.RemoveAsync(name, cancellationToken);
            info = null;
        }

        if (info is null)
        {
            PrepareFolders(project.Id);
            var image = ImageOf(project);
            if (await runtime.InspectImageLabelsAsync(image, cancellationToken) is null)
            {
                throw new NotFoundException($"image '{image}' for container_type '{project.ContainerType}' is not built; run 'oubliette image build --type {project.ContainerType}'");
            }

            await runtime.CreateAsync(BuildSpec(project, image), cancellationToken);
            LogCreated(logger, name, image);
        }

        if (info is not { Running: true })
        {
            await runtime.StartAsync(name, cancellationToken);
        }

        return await StatusAsync(project.Id, cancellationToken);
    }

    /// <summary>
    /// The host folders the container mounts besides its workspaces: <c>run/</c> made once and handed to the container user
    /// (one lchown of the new folder, nothing inside it is ever touched), <c>agent-config/</c> and <c>agent-socket/</c>
    /// owned by root, which the container user can read but never change.
    /// </summary>
    public void PrepareFolders(Guid projectId)
    {
        UnixFiles.EnsureFolderOwnedBy(paths.RunDirectory(projectId), AgentUid, AgentUid);
        UnixFiles.EnsureRootFolder(paths.AgentConfigDirectory(projectId));
        UnixFiles.EnsureRootFolder(paths.AgentSocketDirectory(projectId));
    }

    /// <summary>What to tell a caller whose request met a paused container.</summary>
    public static string PausedMessage(string name) =>
        $"container {name} is paused; unpause it (docker unpause {name}) or restart it with the container tool (action restart)";

    public async Task<ContainerStatus> StopAsync(Guid projectId, CancellationToken cancellationToken)
    {
        var name = NameOf(projectId);
        if (await runtime.InspectAsync(name, cancellationToken) is { Running: true })
        {
            await runtime.StopAsync(name, StopGrace, cancellationToken);
        }

        return await StatusAsync(projectId, cancellationToken);
    }

    public async Task<ContainerStatus> RestartAsync(ProjectMetadata project, CancellationToken cancellationToken)
    {
        await StopAsync(project.Id, cancellationToken);
        return await EnsureRunningAsync(project, cancellationToken);
    }

    public Task RemoveAsync(Guid projectId, CancellationToken cancellationToken) => runtime.RemoveAsync(NameOf(projectId), cancellationToken);

    public async Task<ExecResult> ExecAsync(ProjectMetadata project, string command, string workingDirectory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await EnsureRunningAsync(project, cancellationToken);
        return await runtime.ExecAsync(NameOf(project.Id), new ExecRequest(command, AgentUser, workingDirectory, timeout), cancellationToken);
    }

    public async Task<ContainerLogs> LogsAsync(Guid projectId, int? tail, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        if (await runtime.InspectAsync(NameOf(projectId), cancellationToken) is null)
        {
            throw new NotFoundException($"project {projectId:D} has no container (start it with the container tool's start action)");
        }

        return await runtime.LogsAsync(NameOf(projectId), tail, since, cancellationToken);
    }

    /// <summary>The containers of ours that exist, by project id (reattachment at start-up).</summary>
    public async Task<IReadOnlyDictionary<Guid, ContainerInfo>> FindManagedAsync(CancellationToken cancellationToken)
    {
        var result = new Dictionary<Guid, ContainerInfo>();
        foreach (var container in await runtime.ListByLabelAsync(ManagedLabel, "true", cancellationToken))
        {
            if (container.Labels.TryGetValue(ProjectLabel, out var label) && Guid.TryParseExact(label, "D", out var projectId)
                && container.Name == NameOf(projectId))
            {
                result[projectId] = container;
            }
        }

        return result;
    }

    private ContainerSpec BuildSpec(ProjectMetadata project, string image)
    {
        var labels = new Dictionary<string, string>(extraLabels.Labels, StringComparer.Ordinal)
        {
            [ManagedLabel] = "true",
            [ProjectLabel] = project.Id.ToString("D"),
        };
        var container = config.Defaults.Container;
        return new ContainerSpec(
            NameOf(project.Id),
            image,
            AgentUser,
            labels,
            [
                new BindMount(paths.WorkspacesDirectory(project.Id), "/workspace"),
                new BindMount(paths.RunDirectory(project.Id), RunMountPoint),
                new BindMount(paths.AgentConfigDirectory(project.Id), AgentConfigMountPoint, ReadOnly: true),
                new BindMount(paths.AgentSocketDirectory(project.Id), AgentSocketMountPoint),
                new BindMount(Path.GetDirectoryName(paths.GatewaySocket) ?? paths.GatewaySocket, GatewayMountPoint),
            ],
            container.MemoryBytes,
            (long)(container.Cpus * 1_000_000_000),
            PidsLimit,
            container.Network,
            ["HOME=/home/gogol"]);
    }

    private static bool HasCurrentMounts(ContainerInfo info) =>
        info.Mounts.Any(mount => mount.ContainerPath == GatewayMountPoint)
        && info.Mounts.Any(mount => mount.ContainerPath == AgentConfigMountPoint && mount.ReadOnly)
        && info.Mounts.Any(mount => mount.ContainerPath == AgentSocketMountPoint);

    private static ContainerStatus ToStatus(Guid projectId, ContainerInfo? info) => info is null
        ? new ContainerStatus(NameOf(projectId), null, "missing", false, null, null)
        : new ContainerStatus(info.Name, info.Id, info.State, info.Running, info.Image, info.StartedAt);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "created container {Name} from {Image}")]
    private static partial void LogCreated(ILogger logger, string name, string image);
}
