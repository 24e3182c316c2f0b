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

    /// <summary>
    /// The version of the container spec a container was made with. 2: the engine's init as PID 1, the agent's log as the
    /// container's output, a rotated log. An older container still works; <c>container refresh</c> moves it onto this one.
    /// </summary>
    public const string SpecLabel = "oubliette.spec";
    public const string SpecVersion = "2";

    /// <summary>Where the agent's output goes (see OpenCodeRuntime's start script), in the container.</summary>
    public const string AgentLogInContainer = RunMountPoint + "/agent.log";

    /// <summary>
    /// The container's main process: follows the agent's log, so that <c>docker logs</c> shows the agent's output across
    /// agent restarts and server restarts (the agent appends to the same file, whoever started it). Under the engine's
    /// init, a read-only binary of the host: signals reach <c>tail</c>, so <c>docker stop</c> ends it at once. From the
    /// end of the file (<c>-n 0</c>): a restarted container does not repeat what it showed before. The file is in the
    /// agent's own folder, so the agent may replace it with anything; <c>tail</c> runs as the agent user and reads
    /// nothing the agent could not print itself, and the engine keeps at most <see cref="LogMaxBytes"/> × <see cref="LogMaxFiles"/> of it.
    /// </summary>
    public static readonly IReadOnlyList<string> MainCommand = ["sh", "-c", $"exec tail -F -n 0 -q {AgentLogInContainer} 2>/dev/null"];

    /// <summary>The engine's log of one container is rotated at 10 MiB, 3 files kept: an agent cannot fill the host's disk through it.</summary>
    public const long LogMaxBytes = 10L * 1024 * 1024;
    public const int LogMaxFiles = 3;

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

    /// <summary>Every container the project has (the shared one and those of isolated workspaces), each with whether it is current.</summary>
    public async Task<IReadOnlyList<ProjectContainerState>> StatesAsync(ProjectMetadata project, CancellationToken cancellationToken)
    {
        var image = ImageOf(project);
        var currentImageId = await runtime.ImageIdAsync(image, cancellationToken);
        var result = new List<ProjectContainerState>();
        foreach (var info in await runtime.ListByLabelAsync(ProjectLabel, project.Id.ToString("D"), cancellationToken))
        {
            if (!info.Labels.TryGetValue(ManagedLabel, out var managed) || managed != "true")
            {
                continue;
            }

            var host = info.Labels.TryGetValue(WorkspaceLabel, out var workspace) && Guid.TryParseExact(workspace, "D", out var workspaceId)
                ? new AgentHost(project, workspaceId)
                : new AgentHost(project, null);
            // The image a container was made from is its type's when the name matches; a container made for another
            // type (the project's type changed) is not current whatever its image.
            var sameImage = info.Image == image;
            result.Add(new ProjectContainerState(info.Name, host, info.State, info.Running, info.Image, info.ImageId,
                sameImage ? currentImageId : null,
                info.Labels.TryGetValue(SpecLabel, out var spec) && spec == SpecVersion));
        }

        return [.. result.OrderBy(state => state.Name, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Moves the project onto the current image of its type and the current spec: removes every container of the project
    /// that is not current (all of them with <paramref name="all"/>), then creates and starts the default one. The
    /// caller has let go of the agents in the removed containers. Refuses, changing nothing, when the image is not built.
    /// </summary>
    /// <returns>The names of the containers removed (none when every container was current).</returns>
    public async Task<IReadOnlyList<string>> RefreshAsync(IReadOnlyList<ProjectContainerState> states, ProjectMetadata project, bool all, CancellationToken cancellationToken)
    {
        var image = ImageOf(project);
        if (await runtime.ImageIdAsync(image, cancellationToken) is null)
        {
            throw new NotFoundException($"image '{image}' for container_type '{project.ContainerType}' is not built; run 'oubliette image build --type {project.ContainerType}'");
        }

        var removed = new List<string>();
        foreach (var state in states.Where(state => all || !state.Current))
        {
            await runtime.RemoveAsync(state.Name, cancellationToken);
            LogRefreshed(logger, state.Name, state.Image, state.ImageId);
            removed.Add(state.Name);
        }

        await EnsureRunningAsync(project, cancellationToken);
        return removed;
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
            [SpecLabel] = SpecVersion,
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
            ["HOME=/home/gogol"])
        {
            Command = MainCommand,
            Init = true,
            LogMaxBytes = LogMaxBytes,
            LogMaxFiles = LogMaxFiles,
        };
    }

    private static bool HasCurrentMounts(ContainerInfo info) =>
        info.Mounts.Any(mount => mount.ContainerPath == GatewayMountPoint)
        && info.Mounts.Any(mount => mount.ContainerPath == AgentConfigMountPoint && mount.ReadOnly)
        && info.Mounts.Any(mount => mount.ContainerPath == AgentSocketMountPoint);

    private static ContainerStatus ToStatus(string name, ContainerInfo? info) => info is null
        ? new ContainerStatus(name, null, "missing", false, null, null)
        : new ContainerStatus(info.Name, info.Id, info.State, info.Running, info.Image, info.StartedAt);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information, Message = "container refresh: removed {Name} (image {Image}, {ImageId}); it is made again from the current image")]
    private static partial void LogRefreshed(ILogger logger, string name, string image, string imageId);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "created container {Name} from {Image}")]
    private static partial void LogCreated(ILogger logger, string name, string image);
}
