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

    public const string WorkspaceLabel = "oubliette.workspace";

    public static string NameOf(Guid projectId) => $"oubliette-{projectId:D}";

    /// <summary>The shared container's name, or <c>oubliette-&lt;project-id&gt;-&lt;workspace-id (32 hex)&gt;</c> for an isolated workspace.</summary>
    public static string NameOf(AgentHost host) =>
        host.IsolatedWorkspace is { } workspace ? $"{NameOf(host.Project.Id)}-{workspace:N}" : NameOf(host.Project.Id);

    public string ImageOf(ProjectMetadata project) =>
        config.Containers.TryGetValue(project.ContainerType, out var image)
            ? image
            : throw new InvalidArgumentException($"container_type '{project.ContainerType}' is not configured (allowed: {string.Join(", ", config.Containers.Keys)})");

    public async Task<ContainerStatus> StatusAsync(AgentHost host, CancellationToken cancellationToken) =>
        ToStatus(NameOf(host), await runtime.InspectAsync(NameOf(host), cancellationToken));

    /// <summary>The container a project's views show: the shared one, or the default workspace's when isolated.</summary>
    public Task<ContainerStatus> StatusAsync(ProjectMetadata project, CancellationToken cancellationToken) =>
        StatusAsync(AgentHost.Default(project), cancellationToken);

    /// <summary>Creates the project's (default) container when it does not exist and starts it when it is not running.</summary>
    public Task<ContainerStatus> EnsureRunningAsync(ProjectMetadata project, CancellationToken cancellationToken) =>
        EnsureRunningAsync(AgentHost.Default(project), cancellationToken);

    /// <summary>Creates the host's container when it does not exist and starts it when it is not running.</summary>
    public async Task<ContainerStatus> EnsureRunningAsync(AgentHost host, CancellationToken cancellationToken)
    {
        var project = host.Project;
        var name = NameOf(host);
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
            PrepareFolders(host);
            var image = ImageOf(project);
            if (await runtime.InspectImageLabelsAsync(image, cancellationToken) is null)
            {
                throw new NotFoundException($"image '{image}' for container_type '{project.ContainerType}' is not built; run 'oubliette image build --type {project.ContainerType}'");
            }

            await runtime.CreateAsync(BuildSpec(host, image), cancellationToken);
            LogCreated(logger, name, image);
        }

        if (info is not { Running: true })
        {
            await runtime.StartAsync(name, cancellationToken);
        }

        return await StatusAsync(host, cancellationToken);
    }

    /// <summary>
    /// The host folders the container mounts besides its workspaces: <c>run/</c> made once and handed to the container user
    /// (one lchown of the new folder, nothing inside it is ever touched), <c>agent-config/</c> and <c>agent-socket/</c>
    /// owned by root, which the container user can read but never change.
    /// </summary>
    public void PrepareFolders(AgentHost host)
    {
        if (host.IsolatedWorkspace is not null)
        {
            // hosts/<workspace-id>/ holds only server files besides the folders below.
            UnixFiles.EnsureRootFolder(Path.GetDirectoryName(paths.HostDirectory(host))!);
            UnixFiles.EnsureRootFolder(paths.HostDirectory(host));
        }

        UnixFiles.EnsureFolderOwnedBy(paths.RunDirectory(host), AgentUid, AgentUid);
        UnixFiles.EnsureRootFolder(paths.AgentConfigDirectory(host));
        UnixFiles.EnsureRootFolder(paths.AgentSocketDirectory(host));
    }

    /// <summary>What to tell a caller whose request met a paused container.</summary>
    public static string PausedMessage(string name) =>
        $"container {name} is paused; unpause it (docker unpause {name}) or restart it with the container tool (action restart)";

    public async Task<ContainerStatus> StopAsync(AgentHost host, CancellationToken cancellationToken)
    {
        var name = NameOf(host);
        if (await runtime.InspectAsync(name, cancellationToken) is { Running: true })
        {
            await runtime.StopAsync(name, StopGrace, cancellationToken);
        }

        return await StatusAsync(host, cancellationToken);
    }

    public async Task<ContainerStatus> RestartAsync(AgentHost host, CancellationToken cancellationToken)
    {
        await StopAsync(host, cancellationToken);
        return await EnsureRunningAsync(host, cancellationToken);
    }

    /// <summary>Removes every container of the project: the shared one and those of isolated workspaces.</summary>
    public async Task RemoveAsync(Guid projectId, CancellationToken cancellationToken)
    {
        await runtime.RemoveAsync(NameOf(projectId), cancellationToken);
        foreach (var container in await runtime.ListByLabelAsync(ProjectLabel, projectId.ToString("D"), cancellationToken))
        {
            if (container.Labels.TryGetValue(ManagedLabel, out var managed) && managed == "true")
            {
                await runtime.RemoveAsync(container.Id, cancellationToken);
            }
        }
    }

    /// <summary>Removes one host's container (an isolated workspace being deleted).</summary>
    public Task RemoveAsync(AgentHost host, CancellationToken cancellationToken) => runtime.RemoveAsync(NameOf(host), cancellationToken);

    public async Task<ExecResult> ExecAsync(AgentHost host, string command, string workingDirectory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await EnsureRunningAsync(host, cancellationToken);
        return await runtime.ExecAsync(NameOf(host), new ExecRequest(command, AgentUser, workingDirectory, timeout), cancellationToken);
    }

    public async Task<ContainerLogs> LogsAsync(AgentHost host, int? tail, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        if (await runtime.InspectAsync(NameOf(host), cancellationToken) is null)
        {
            throw new NotFoundException($"project {host.Project.Id:D} has no container {NameOf(host)} (start it with the container tool's start action)");
        }

        return await runtime.LogsAsync(NameOf(host), tail, since, cancellationToken);
    }

    /// <summary>The containers of ours that exist, by project id (reattachment at start-up).</summary>
    public async Task<IReadOnlyDictionary<Guid, ContainerInfo>> FindManagedAsync(CancellationToken cancellationToken)
    {
        var result = new Dictionary<Guid, ContainerInfo>();
        foreach (var container in await runtime.ListByLabelAsync(ManagedLabel, "true", cancellationToken))
        {
            if (container.Labels.TryGetValue(ProjectLabel, out var label) && Guid.TryParseExact(label, "D", out var projectId)
                && (container.Name == NameOf(projectId) || container.Name.StartsWith(NameOf(projectId) + "-", StringComparison.Ordinal)))
            {
                result[projectId] = container;
            }
        }

        return result;
    }

    private ContainerSpec BuildSpec(AgentHost host, string image)
    {
        var project = host.Project;
        var labels = new Dictionary<string, string>(extraLabels.Labels, StringComparer.Ordinal)
        {
            [ManagedLabel] = "true",
            [ProjectLabel] = project.Id.ToString("D"),
        };
        if (host.IsolatedWorkspace is { } isolated)
        {
            labels[WorkspaceLabel] = isolated.ToString("D");
        }

        // Isolated: only the session's workspace is mounted, at the same path it has in a shared container.
        var workspaces = host.IsolatedWorkspace is { } workspace
            ? new BindMount(paths.Workspace(project.Id, workspace), $"/workspace/{workspace:D}")
            : new BindMount(paths.WorkspacesDirectory(project.Id), "/workspace");
        var container = config.Defaults.Container;
        return new ContainerSpec(
            NameOf(host),
            image,
            AgentUser,
            labels,
            [
                workspaces,
                new BindMount(paths.RunDirectory(host), RunMountPoint),
                new BindMount(paths.AgentConfigDirectory(host), AgentConfigMountPoint, ReadOnly: true),
                new BindMount(paths.AgentSocketDirectory(host), AgentSocketMountPoint),
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

    private static ContainerStatus ToStatus(string name, ContainerInfo? info) => info is null
        ? new ContainerStatus(name, null, "missing", false, null, null)
        : new ContainerStatus(info.Name, info.Id, info.State, info.Running, info.Image, info.StartedAt);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "created container {Name} from {Image}")]
    private static partial void LogCreated(ILogger logger, string name, string image);
}
