using System.Text.RegularExpressions;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Operations;

namespace Oubliette.Projects;

/// <summary>Projects and their workspaces (SPEC §5): create, list, get, delete; the container follows the project.</summary>
public sealed partial class ProjectService(
    ProjectStore store,
    ProjectPaths paths,
    ProjectContainers containers,
    GitWorkspaces git,
    CloneSourcePolicy cloneSources,
    KeyedLocks locks,
    OublietteConfig config,
    ActiveSessionCounts activeSessions,
    AuditLog audit,
    TimeProvider time,
    IEnumerable<IProjectTeardown> teardowns,
    ILogger<ProjectService> logger)
{
    private readonly SemaphoreSlim _createGate = new(1, 1);

    public async Task<ProjectView> CreateAsync(CreateProjectRequest request, Caller caller, CancellationToken cancellationToken)
    {
        var name = request.Name?.Trim();
        if (string.IsNullOrEmpty(name) || !ProjectName().IsMatch(name))
        {
            throw new InvalidArgumentException($"name '{request.Name}' is not valid (1-64 characters: letters, digits, space, '.', '_', '-'; starting with a letter or digit)");
        }

        // Checked before anything exists: a refused source creates nothing.
        var remote = request.RemoteUrl is { } url ? await cloneSources.CheckAsync("remote_url", url, caller, cancellationToken) : null;
        var project = new ProjectMetadata
        {
            Id = Guid.NewGuid(),
            Name = name,
            Description = request.Description,
            CreatedAt = time.GetUtcNow(),
            UpdatedAt = time.GetUtcNow(),
            Model = ValidateModel(request.Model),
            Autonomy = ConfigParser.RequireLevel("autonomy", request.Autonomy ?? config.Defaults.Agent.Autonomy),
            Reasoning = ConfigParser.RequireLevel("reasoning", request.Reasoning ?? config.Defaults.Agent.Reasoning),
            ContainerType = ValidateContainerType(request.ContainerType ?? config.Defaults.Container.Type),
            RemoteUrl = remote?.Url,
            GithubCredential = request.RemoteUrl is null && request.GithubCredential is null ? null : git.ValidateCredential(request.GithubCredential),
            InitGit = request.InitGit ?? true,
            WorkspaceIsolation = request.WorkspaceIsolation ?? false,
            Limits = new ProjectLimits(
                InRange("max_recursion_depth", request.MaxRecursionDepth, 0, 32),
                InRange("max_agents_per_session", request.MaxAgentsPerSession, 1, 10_000),
                request.MaxCostUsd is { } cost && (cost < 0 || cost > 1_000_000 || double.IsNaN(cost))
                    ? throw new InvalidArgumentException($"max_cost_usd {cost} is out of range (0..1000000)")
                    : request.MaxCostUsd),
            DefaultWorkspaceId = Guid.NewGuid(),
            Workspaces = [],
        };

        await _createGate.WaitAsync(cancellationToken);
        try
        {
            if ((await store.ListAsync(cancellationToken)).FirstOrDefault(existing => string.Equals(existing.Name, name, StringComparison.OrdinalIgnoreCase)) is { } clash)
            {
                throw new ConflictException($"a project named '{clash.Name}' already exists (id {clash.Id:D}); names are unique");
            }

            project = project with { Workspaces = [new WorkspaceMetadata(project.DefaultWorkspaceId, null, project.RemoteUrl, project.CreatedAt)] };
            try
            {
                containers.PrepareFolders(AgentHost.Default(project));
                await PrepareWorkspaceAsync(project, project.DefaultWorkspaceId, remote, project.GithubCredential, cancellationToken);
                await store.SaveAsync(project, cancellationToken);
                await containers.EnsureRunningAsync(project, cancellationToken);
            }
            catch (Exception exception)
            {
                // Nothing half-made stays behind: no folder, no container, no metadata. Each step is tried on its own: an
                // engine that is down (often why creation failed) must not keep the metadata and folders from going.
                LogCreateFailed(logger, project.Id, exception);
                await CleanUpAsync(project.Id, "remove its container", token => containers.RemoveAsync(project.Id, token));
                await CleanUpAsync(project.Id, "delete its metadata and folders", token => store.DeleteAsync(project.Id, token));
                throw;
            }
        }
        finally
        {
            _createGate.Release();
        }

        audit.Write(new AuditEntry("project.create", "ok", caller.TokenId, caller.Scope.ToString(), project.Id.ToString("D"), $"name={project.Name}"));
        return await ViewAsync(project, cancellationToken);
    }

    public async Task<IReadOnlyList<ProjectView>> ListAsync(Caller caller, string? nameContains, int? limit, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > 1000)
        {
            throw new InvalidArgumentException($"limit {limit} is out of range (1..1000)");
        }

        var visible = (await store.ListAsync(cancellationToken))
            .Where(project => PermissionPolicy.CanSee(caller.Scope, project.Id))
            .Where(project => nameContains is null || project.Name.Contains(nameContains, StringComparison.OrdinalIgnoreCase))
            .Take(limit ?? 100)
            .ToList();
        var views = new List<ProjectView>(visible.Count);
        foreach (var project in visible)
        {
            views.Add(await ViewAsync(project, cancellationToken));
        }

        return views;
    }

    /// <summary>Every project, for start-up recovery (no permission filter: callers are internal).</summary>
    public Task<IReadOnlyList<ProjectMetadata>> ListAllAsync(CancellationToken cancellationToken) => store.ListAsync(cancellationToken);

    /// <summary>The project if it is loaded, without I/O (for hot paths such as budget checks).</summary>
    public ProjectMetadata? TryGetCached(Guid id) => store.TryGetCached(id);

    public async Task<ProjectMetadata> RequireAsync(Guid id, CancellationToken cancellationToken) =>
        await store.FindAsync(id, cancellationToken) ?? throw new NotFoundException($"project_id '{id:D}' not found");

    public async Task<ProjectView> GetAsync(Guid id, CancellationToken cancellationToken) => await ViewAsync(await RequireAsync(id, cancellationToken), cancellationToken);

    public async Task<ProjectView> DeleteAsync(Guid id, bool force, Caller caller, CancellationToken cancellationToken)
    {
        using var _ = await locks.AcquireAsync(id, cancellationToken);
        var project = await RequireAsync(id, cancellationToken);
        var view = await ViewAsync(project, cancellationToken);
        if (view.ActiveSessions > 0 && !force)
        {
            throw new ConflictException($"project '{id:D}' has {view.ActiveSessions} active session{(view.ActiveSessions == 1 ? "" : "s")}; end them or pass force=true");
        }

        await containers.RemoveAsync(id, cancellationToken);
        // The container is gone; what others hold for it (its gateway credential, the agent connection) dies now too.
        foreach (var teardown in teardowns)
        {
            await teardown.ProjectDeletedAsync(id, CancellationToken.None);
        }

        await store.DeleteAsync(id, cancellationToken);
        audit.Write(new AuditEntry("project.delete", "ok", caller.TokenId, caller.Scope.ToString(), id.ToString("D"), $"name={project.Name}"));
        return view with { Container = await containers.StatusAsync(project, cancellationToken) };
    }

    public async Task<IReadOnlyList<WorkspaceMetadata>> ListWorkspacesAsync(Guid projectId, CancellationToken cancellationToken) =>
        (await RequireAsync(projectId, cancellationToken)).Workspaces;

    /// <summary>A new workspace, empty, initialised or cloned from <paramref name="source"/> (checked against the caller's scope; null means no admin rights).</summary>
    public async Task<WorkspaceMetadata> CreateWorkspaceAsync(Guid projectId, string? externalId, string? source, Caller? caller, CancellationToken cancellationToken)
    {
        if (externalId is not null && (externalId.Length is 0 or > 128 || externalId.Any(char.IsControl)))
        {
            throw new InvalidArgumentException("external_id must be 1-128 printable characters");
        }

        var checkedSource = source is null ? null : await cloneSources.CheckAsync("source", source, caller, cancellationToken);

        using var _ = await locks.AcquireAsync(projectId, cancellationToken);
        var project = await RequireAsync(projectId, cancellationToken);
        if (externalId is not null && project.Workspaces.FirstOrDefault(workspace => workspace.ExternalId == externalId) is { } existing)
        {
            throw new ConflictException($"workspace with external_id '{externalId}' already exists (id {existing.Id:D})");
        }

        var workspace = new WorkspaceMetadata(Guid.NewGuid(), externalId, source, time.GetUtcNow());
        try
        {
            await PrepareWorkspaceAsync(project, workspace.Id, checkedSource, checkedSource is null ? null : git.ValidateCredential(project.GithubCredential), cancellationToken);
            await store.SaveAsync(project with { Workspaces = [.. project.Workspaces, workspace], UpdatedAt = time.GetUtcNow() }, cancellationToken);
        }
        catch
        {
            await WorkspaceFolders.DeleteAsync(paths.Workspace(projectId, workspace.Id), CancellationToken.None);
            throw;
        }

        return workspace;
    }

    public async Task<WorkspaceMetadata> DeleteWorkspaceAsync(Guid projectId, Guid workspaceId, CancellationToken cancellationToken)
    {
        using var _ = await locks.AcquireAsync(projectId, cancellationToken);
        var project = await RequireAsync(projectId, cancellationToken);
        var workspace = project.Workspaces.FirstOrDefault(candidate => candidate.Id == workspaceId)
            ?? throw new NotFoundException($"workspace_id '{workspaceId:D}' not found in project '{projectId:D}'");
        if (workspaceId == project.DefaultWorkspaceId)
        {
            throw new ConflictException($"workspace '{workspaceId:D}' is the project's default workspace and cannot be deleted");
        }

        await store.SaveAsync(project with { Workspaces = [.. project.Workspaces.Where(candidate => candidate.Id != workspaceId)], UpdatedAt = time.GetUtcNow() }, cancellationToken);
        if (project.WorkspaceIsolation)
        {
            // The workspace's own container and files go with it.
            var host = AgentHost.For(project, workspaceId);
            await containers.RemoveAsync(host, cancellationToken);
            DeleteFolder(paths.HostDirectory(host));
        }

        await WorkspaceFolders.DeleteAsync(paths.Workspace(projectId, workspaceId), cancellationToken);
        return workspace;
    }

    public EffectiveLimits LimitsOf(ProjectMetadata project) => Effective(project.Limits);

    /// <summary>The limits of a project that overrides nothing.</summary>
    public EffectiveLimits DefaultLimits() => Effective(new ProjectLimits(null, null, null));

    private EffectiveLimits Effective(ProjectLimits overrides)
    {
        var defaults = config.Defaults.Limits;
        string Source(object? overridden) => overridden is null ? "default" : "project";
        return new EffectiveLimits(
            overrides.MaxRecursionDepth ?? defaults.MaxRecursionDepth,
            overrides.MaxAgentsPerSession ?? defaults.MaxAgentsPerSession,
            overrides.MaxCostUsd ?? defaults.MaxCostUsd,
            defaults.MaxActiveSessionsPerProject,
            new Dictionary<string, string>
            {
                ["max_recursion_depth"] = Source(overrides.MaxRecursionDepth),
                ["max_agents_per_session"] = Source(overrides.MaxAgentsPerSession),
                ["max_cost_usd"] = Source(overrides.MaxCostUsd),
                ["max_active_sessions_per_project"] = "default",
            });
    }

    private async Task<ProjectView> ViewAsync(ProjectMetadata project, CancellationToken cancellationToken) => new(
        project.Id,
        project.Name,
        project.Description,
        project.CreatedAt,
        project.UpdatedAt,
        project.Model,
        project.Autonomy,
        project.Reasoning,
        project.ContainerType,
        project.RemoteUrl,
        project.GithubCredential,
        project.WorkspaceIsolation,
        LimitsOf(project),
        project.DefaultWorkspaceId,
        project.Workspaces.Count,
        await containers.StatusAsync(project, cancellationToken),
        activeSessions.Get(project.Id));

    /// <summary>
    /// Makes the workspace folder: git runs as the agent user (uid 1000) in a fresh folder the agent cannot see yet,
    /// which is then renamed into place. Nothing is chowned but that one new folder (SPEC §12).
    /// </summary>
    private async Task PrepareWorkspaceAsync(ProjectMetadata project, Guid workspaceId, CloneSource? source, string? credential, CancellationToken cancellationToken)
    {
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        WorkspaceFolders.EnsureRoot(paths.WorkspacesDirectory(project.Id));
        var folder = paths.Workspace(project.Id, workspaceId);
        if (source is null && !project.InitGit)
        {
            WorkspaceFolders.CreateForAgent(folder, ownerOnly);
            return;
        }

        var stage = Path.Combine(paths.Directory(project.Id), $"staging-{workspaceId:D}");
        WorkspaceFolders.CreateForAgent(stage, ownerOnly);
        try
        {
            if (source is not null)
            {
                await git.CloneAsync(source, credential, stage, cancellationToken);
            }
            else
            {
                await git.InitAsync(stage, cancellationToken);
            }

            Directory.Move(stage, folder);
        }
        finally
        {
            await WorkspaceFolders.DeleteAsync(stage, CancellationToken.None);
        }
    }

    private string? ValidateModel(string? model)
    {
        if (model is not null && !config.Models.Models.ContainsKey(model))
        {
            throw new InvalidArgumentException($"model '{model}' is not configured (configured: {(config.Models.Models.Count == 0 ? "none" : string.Join(", ", config.Models.Models.Keys))})");
        }

        return model ?? config.Defaults.Agent.Model ?? config.Models.SessionModel;
    }

    private string ValidateContainerType(string type) =>
        config.Containers.ContainsKey(type)
            ? type
            : throw new InvalidArgumentException($"container_type '{type}' is not valid (allowed: {string.Join(", ", config.Containers.Keys)})");

    private static int? InRange(string field, int? value, int min, int max) =>
        value is { } number && (number < min || number > max)
            ? throw new InvalidArgumentException($"{field} {number} is out of range ({min}..{max})")
            : value;

    private async Task CleanUpAsync(Guid projectId, string what, Func<CancellationToken, Task> step)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await step(bound.Token);
        }
        catch (Exception exception) when (exception is OublietteException or IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            LogCleanupFailed(logger, projectId, what, exception);
        }
    }

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "creating project {ProjectId} failed; undoing it")]
    private static partial void LogCreateFailed(ILogger logger, Guid projectId, Exception exception);

    [LoggerMessage(EventId = 12, Level = LogLevel.Error, Message = "could not clean up after the failed creation of project {ProjectId}: {What} failed")]
    private static partial void LogCleanupFailed(ILogger logger, Guid projectId, string what, Exception exception);

    private static void DeleteFolder(string folder)
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The name rule of projects (also used for schedule names): 1-64 letters, digits, space, '.', '_', '-', starting with a letter or digit.</summary>
    public static bool IsValidName(string? name) => !string.IsNullOrEmpty(name) && ProjectName().IsMatch(name);

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")]
    private static partial Regex ProjectName();
}
