using System.ComponentModel;
using System.Globalization;
using ModelContextProtocol.Server;
using Oubliette.Auth;
using Oubliette.Errors;
using Oubliette.Operations;
using Oubliette.Projects;

namespace Oubliette.Mcp;

[McpServerToolType]
public sealed class ContainerTool(ProjectService projects, ProjectContainers containers, Agents.IAgentRuntime agents, Sessions.SessionService sessions, Authorizer authorizer, CallerContext callerContext, AuditLog audit, TimeProvider time)
{
    private const int DefaultTimeoutSeconds = 60;
    private const int MaxTimeoutSeconds = 3600;

    [McpServerTool(Name = "container", UseStructuredContent = true)]
    [Description("A project's container. Actions: start, stop, restart, status {project_id}; exec {project_id, command, working_dir?, timeout_seconds?} -> stdout, stderr, exit_code; logs {project_id, tail?, since?}; "
        + "refresh {project_id, force?}: move the project onto the current image of its container type (removes its containers that are not current and starts the default one; refused while sessions are active unless force=true, which ends them). "
        + "With workspace_isolation each workspace has its own container: pass workspace_id (default: the default workspace).")]
    public async Task<ContainerToolResult> RunAsync(
        [Description("start | stop | restart | status | exec | logs | refresh")] string action,
        [Description("the project's UUID")] string? project_id = null,
        [Description("exec: shell command (sh -c), run as the agent user")] string? command = null,
        [Description("exec: absolute directory in the container (default: the default workspace)")] string? working_dir = null,
        [Description("exec: kill the command after this many seconds (default 60, at most 3600)")] int? timeout_seconds = null,
        [Description("logs: last N lines (default 100)")] int? tail = null,
        [Description("logs: only lines after this time (ISO-8601) or this long ago (e.g. 10m, 2h)")] string? since = null,
        [Description("projects with workspace_isolation: the workspace whose container to act on (default: the default workspace)")] string? workspace_id = null,
        [Description("refresh: go ahead although sessions are active (their agents end with their containers)")] bool? force = null,
        CancellationToken cancellationToken = default)
    {
        var verb = ToolArguments.Action("container", action, ActionCatalog.ActionsOf("container"));
        var projectId = ProjectIds.Parse("project_id", project_id);
        var caller = callerContext.Caller;
        authorizer.Demand(caller, $"container.{verb}", projectId);
        var project = await projects.RequireAsync(projectId, cancellationToken);
        var host = HostOf(project, workspace_id);
        switch (verb)
        {
            case "start":
                return new ContainerToolResult(Status: await containers.EnsureRunningAsync(host, cancellationToken));
            case "stop":
                // The agent goes with its container: the next use connects to the new one instead of a dead socket.
                await agents.DisconnectAsync(host, $"container {ProjectContainers.NameOf(host)} was stopped");
                return new ContainerToolResult(Status: await containers.StopAsync(host, cancellationToken));
            case "restart":
                await agents.DisconnectAsync(host, $"container {ProjectContainers.NameOf(host)} was restarted");
                return new ContainerToolResult(Status: await containers.RestartAsync(host, cancellationToken));
            case "status":
                return new ContainerToolResult(Status: await containers.StatusAsync(host, cancellationToken));
            case "refresh":
                return await RefreshAsync(project, caller, force ?? false, cancellationToken);
            case "logs":
                var logs = await containers.LogsAsync(host, ValidateTail(tail), ParseSince(since), cancellationToken);
                return new ContainerToolResult(Stdout: logs.Stdout, Stderr: logs.Stderr, TruncatedBytes: logs.TruncatedBytes);
            default:
                return ContainerToolResult.Of(await ExecAsync(host, caller, command, working_dir, timeout_seconds, cancellationToken));
        }
    }

    /// <summary>
    /// Moves the project onto the current image of its type and the current container spec. The containers that are not
    /// current are removed (the workspaces live on the host) and the default one is made again; nothing is removed when
    /// all are current. Active sessions (created, running, idle) lose their agent with its container, so they are named
    /// and the refresh refused unless <paramref name="force"/>.
    /// </summary>
    private async Task<ContainerToolResult> RefreshAsync(ProjectMetadata project, Caller caller, bool force, CancellationToken cancellationToken)
    {
        var states = await containers.StatesAsync(project, cancellationToken);
        var stale = states.Where(state => !state.Current).ToList();
        if (stale.Count > 0 && !force)
        {
            var active = sessions.List(project.Id, null).Where(session => !Sessions.SessionStatus.IsFinal(session.Status)).ToList();
            if (active.Count > 0)
            {
                throw new ConflictException(
                    $"project '{project.Id:D}' has {active.Count} active session{(active.Count == 1 ? "" : "s")}: "
                    + string.Join(", ", active.Take(20).Select(session => $"{session.SessionId} ({session.Status})"))
                    + (active.Count > 20 ? ", …" : "")
                    + "; refreshing removes the container their agent runs in: end them, or pass force=true");
            }
        }

        foreach (var state in stale)
        {
            // The agent goes with its container: running sessions hear it now, the next use connects to the new one.
            await agents.DisconnectAsync(state.Host, $"container {state.Name} was refreshed onto the current image");
        }

        var removed = await containers.RefreshAsync(stale, project, all: false, cancellationToken);
        var status = await containers.StatusAsync(project, cancellationToken);
        audit.Write(new AuditEntry("container.refresh", "ok", caller.TokenId, caller.Scope.ToString(), project.Id.ToString("D"),
            $"removed={removed.Count} force={force}"));
        return new ContainerToolResult(Status: status, Refreshed: removed.Count > 0, Removed: removed);
    }

    /// <summary>The container to act on: the project's, or with workspace_isolation the named (else default) workspace's.</summary>
    private static AgentHost HostOf(ProjectMetadata project, string? workspaceId)
    {
        if (workspaceId is null)
        {
            return AgentHost.Default(project);
        }

        var id = ProjectIds.Parse("workspace_id", workspaceId);
        if (project.Workspaces.All(workspace => workspace.Id != id))
        {
            throw new NotFoundException($"workspace_id '{id:D}' not found in project '{project.Id:D}'");
        }

        return AgentHost.For(project, id);
    }

    private async Task<ExecOutput> ExecAsync(AgentHost host, Caller caller, string? command, string? workingDirectory, int? timeoutSeconds, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(command))
        {
            throw new InvalidArgumentException("container exec: 'command' is required");
        }

        if (workingDirectory is not null && (!workingDirectory.StartsWith('/') || workingDirectory.Contains('\0', StringComparison.Ordinal)))
        {
            throw new InvalidArgumentException($"working_dir '{workingDirectory}' is not an absolute path in the container");
        }

        var seconds = timeoutSeconds ?? DefaultTimeoutSeconds;
        if (seconds is < 1 or > MaxTimeoutSeconds)
        {
            throw new InvalidArgumentException($"timeout_seconds {seconds} is out of range (1..{MaxTimeoutSeconds})");
        }

        var project = host.Project;
        var directory = workingDirectory ?? $"/workspace/{host.IsolatedWorkspace ?? project.DefaultWorkspaceId:D}";
        var result = await containers.ExecAsync(host, command, directory, TimeSpan.FromSeconds(seconds), cancellationToken);
        audit.Write(new AuditEntry("container.exec", result.TimedOut ? "timed_out" : "ok", caller.TokenId, caller.Scope.ToString(), project.Id.ToString("D"),
            $"exit_code={result.ExitCode}"));
        if (result.TimedOut)
        {
            throw new LimitReachedException(
                $"command exceeded timeout_seconds={seconds} and was killed (exit code {result.ExitCode}); stdout so far: {Excerpt(result.Stdout)}; stderr so far: {Excerpt(result.Stderr)}");
        }

        return new ExecOutput(result.Stdout, result.Stderr, result.ExitCode, result.TruncatedBytes);
    }

    private static int ValidateTail(int? tail) =>
        tail is { } lines && (lines < 1 || lines > 10_000)
            ? throw new InvalidArgumentException($"tail {lines} is out of range (1..10000)")
            : tail ?? 100;

    private DateTimeOffset? ParseSince(string? since)
    {
        if (string.IsNullOrWhiteSpace(since))
        {
            return null;
        }

        if (DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var instant))
        {
            return instant;
        }

        try
        {
            var ahead = Auth.ExpiryParser.Parse(since, time.GetUtcNow());
            return ahead is { } future ? time.GetUtcNow() - (future - time.GetUtcNow()) : null;
        }
        catch (InvalidArgumentException)
        {
            throw new InvalidArgumentException($"since '{since}' is not valid (an ISO-8601 time, or a duration ago such as 10m, 2h, 1d)");
        }
    }

    private static string Excerpt(string text) => text.Length > 2000 ? text[^2000..] : text;
}
