using System.Collections.Concurrent;
using System.Security.Cryptography;
using Oubliette.Agents;
using Oubliette.Agents.OpenCode;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Operations;
using Oubliette.Projects;

namespace Oubliette.Sessions;

/// <summary>
/// Agent sessions (SPEC §6): spawn, message, read events, wait, end. Each session maps to one agent session in its
/// project's container; the agent's events arrive through <see cref="AgentEventHub"/> and land in the session's buffer.
/// </summary>
public sealed partial class SessionService
{
    private const long IndexReservation = 10_000;
    private readonly ConcurrentDictionary<string, LiveSession> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(Guid Project, string AgentSession), LiveSession> _byAgentSession = new();
    private readonly SemaphoreSlim _spawnGate = new(1, 1);
    private readonly ProjectService _projects;
    private readonly IAgentRuntime _agents;
    private readonly OpenCodeConfigWriter _models;
    private readonly SessionStore _store;
    private readonly OublietteConfig _config;
    private readonly OublietteMetrics _metrics;
    private readonly ActiveSessionCounts _activeCounts;
    private readonly AuditLog _audit;
    private readonly TimeProvider _time;
    private readonly ILogger<SessionService> _logger;

    public SessionService(
        ProjectService projects,
        IAgentRuntime agents,
        AgentEventHub hub,
        OpenCodeConfigWriter models,
        SessionStore store,
        OublietteConfig config,
        OublietteMetrics metrics,
        ActiveSessionCounts activeCounts,
        AuditLog audit,
        TimeProvider time,
        ILogger<SessionService> logger)
    {
        _projects = projects;
        _agents = agents;
        _models = models;
        _store = store;
        _config = config;
        _metrics = metrics;
        _activeCounts = activeCounts;
        _audit = audit;
        _time = time;
        _logger = logger;
        hub.Subscribe(OnAgentEvent, OnAgentLost, OnAgentConnected);
    }

    public async Task<SpawnResult> SpawnAsync(SpawnRequest request, string actor, ISessionSubscriber? subscriber, CancellationToken cancellationToken)
    {
        var prompt = RequirePrompt(request.Prompt);
        var project = await _projects.RequireAsync(request.ProjectId, cancellationToken);
        var workspaceId = await ResolveWorkspaceAsync(project, request, cancellationToken);

        if (!request.NewSession && FindResumable(project.Id, workspaceId) is { } resumable)
        {
            Subscribe(resumable, subscriber);
            await StartTurnAsync(project, resumable, prompt, cancellationToken);
            return Result(resumable, resumed: true);
        }

        var model = _models.ModelFor(project, request.Model)
            ?? throw new InvalidArgumentException("no model is configured: set models.models and defaults.agent.model (or models.defaults.session_model), or pass model");
        var autonomy = ConfigParser.RequireLevel("autonomy", request.Autonomy ?? project.Autonomy);
        var reasoning = ConfigParser.RequireLevel("reasoning", request.Reasoning ?? project.Reasoning);

        LiveSession session;
        await _spawnGate.WaitAsync(cancellationToken);
        try
        {
            var limit = _projects.LimitsOf(project).MaxActiveSessionsPerProject;
            var active = ActiveCount(project.Id);
            if (active >= limit)
            {
                _metrics.SessionsSpawned.WithLabels(project.Id.ToString("D"), "limit_reached").Inc();
                throw new LimitReachedException(
                    $"project {project.Id:D} already has {active} active sessions (max_active_sessions_per_project={limit}); end one or wait for it to finish");
            }

            await _agents.EnsureAgentAsync(project, cancellationToken);
            var directory = WorkspacePath(workspaceId);
            var agentSessionId = await _agents.CreateSessionAsync(project, directory, cancellationToken);
            var now = _time.GetUtcNow();
            var id = NewSessionId(now);
            session = new LiveSession(
                new SessionMetadata
                {
                    SessionId = id,
                    ProjectId = project.Id,
                    WorkspaceId = workspaceId,
                    RootSessionId = id,
                    Depth = 0,
                    Status = SessionStatus.Created,
                    AgentSessionId = agentSessionId,
                    Model = $"{model.ProviderId}/{model.ModelId}",
                    Autonomy = autonomy,
                    Reasoning = reasoning,
                    CreatedAt = now,
                    UpdatedAt = now,
                    ReservedEventIndex = IndexReservation,
                },
                new EventRing(_config.Server.EventBufferSize));
            _sessions[id] = session;
            _byAgentSession[(project.Id, agentSessionId)] = session;
            UpdateActiveGauge(project.Id);
        }
        finally
        {
            _spawnGate.Release();
        }

        Subscribe(session, subscriber);
        Emit(session, "status", status: SessionStatus.Created);
        await PersistAsync(session, cancellationToken);
        _audit.Write(new AuditEntry("session.spawn", "ok", actor, null, session.Metadata.SessionId, $"project={project.Id:D}"));
        _metrics.SessionsSpawned.WithLabels(project.Id.ToString("D"), "ok").Inc();
        await StartTurnAsync(project, session, prompt, cancellationToken);
        return Result(session, resumed: false);
    }

    public async Task<SpawnResult> MessageAsync(string sessionId, string? message, ISessionSubscriber? subscriber, CancellationToken cancellationToken)
    {
        var prompt = RequirePrompt(message);
        var session = Require(sessionId);
        var project = await _projects.RequireAsync(session.Metadata.ProjectId, cancellationToken);
        Subscribe(session, subscriber);
        await StartTurnAsync(project, session, prompt, cancellationToken);
        return Result(session, resumed: true);
    }

    public SessionMetadata Get(string sessionId) => Require(sessionId).Metadata;

    /// <summary>The project a session belongs to (for the permission check before anything else).</summary>
    public Guid ProjectOf(string? sessionId) => Require(sessionId).Metadata.ProjectId;

    public IReadOnlyList<SessionMetadata> List(Guid projectId, string? status)
    {
        if (status is not null && !SessionStatus.All.Contains(status, StringComparer.Ordinal))
        {
            throw new InvalidArgumentException($"status '{status}' is not valid (allowed: {string.Join(", ", SessionStatus.All)})");
        }

        return [.. _sessions.Values.Select(session => session.Metadata)
            .Where(session => session.ProjectId == projectId && (status is null || session.Status == status))
            .OrderBy(session => session.CreatedAt)];
    }

    /// <summary>
    /// Events after <paramref name="sinceIndex"/>; with <paramref name="waitSeconds"/>, an empty page waits for the next
    /// event (long poll) so that a poller does not spin while the agent thinks.
    /// </summary>
    public async Task<(EventPage Page, string Status)> EventsAsync(
        string sessionId, long sinceIndex, int? maxEvents, double? waitSeconds, ISessionSubscriber? subscriber, CancellationToken cancellationToken)
    {
        if (waitSeconds is < 0 or > 300)
        {
            throw new InvalidArgumentException($"wait_seconds {waitSeconds} is out of range (0..300)");
        }

        var read = Events(sessionId, sinceIndex, maxEvents, subscriber);
        if (read.Page.Events.Count > 0 || waitSeconds is not > 0)
        {
            return read;
        }

        var session = Require(sessionId);
        if (session.Metadata.Ended)
        {
            return read;
        }

        try
        {
            await session.Events.WhenAfterAsync(read.Page.LastIndex).WaitAsync(TimeSpan.FromSeconds(waitSeconds.Value), cancellationToken);
        }
        catch (TimeoutException)
        {
            return read;
        }

        return Events(sessionId, sinceIndex, maxEvents, subscriber: null);
    }

    public (EventPage Page, string Status) Events(string sessionId, long sinceIndex, int? maxEvents, ISessionSubscriber? subscriber)
    {
        if (sinceIndex < -1)
        {
            throw new InvalidArgumentException($"since_index {sinceIndex} is not valid (-1 for all buffered events, or an event index)");
        }

        if (maxEvents is < 1 or > 10_000)
        {
            throw new InvalidArgumentException($"max_events {maxEvents} is out of range (1..10000)");
        }

        var session = Require(sessionId);
        Subscribe(session, subscriber);
        return (session.Events.Read(sinceIndex, maxEvents), session.Metadata.Status);
    }

    public async Task<WaitResult> WaitAsync(string sessionId, string? until, int? timeoutSeconds, CancellationToken cancellationToken)
    {
        var target = until ?? "idle";
        if (target is not ("idle" or "completed"))
        {
            throw new InvalidArgumentException($"until '{until}' is not valid (allowed: idle, completed)");
        }

        var seconds = timeoutSeconds ?? 60;
        if (seconds is < 0 or > 3600)
        {
            throw new InvalidArgumentException($"timeout_seconds {seconds} is out of range (0..3600)");
        }

        var session = Require(sessionId);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(seconds));
        while (true)
        {
            var changed = session.Changed;
            var status = session.Metadata.Status;
            var reached = target == "idle" ? status is SessionStatus.Idle || SessionStatus.IsFinal(status) : SessionStatus.IsFinal(status);
            if (reached)
            {
                return new WaitResult(sessionId, status, true, session.Events.NextIndex - 1);
            }

            try
            {
                await changed.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return new WaitResult(sessionId, session.Metadata.Status, false, session.Events.NextIndex - 1);
            }
        }
    }

    public async Task<SessionMetadata> EndAsync(string sessionId, string actor, CancellationToken cancellationToken)
    {
        var session = Require(sessionId);
        var metadata = session.Metadata;
        if (!metadata.Ended && metadata.Status == SessionStatus.Running)
        {
            var project = await _projects.RequireAsync(metadata.ProjectId, cancellationToken);
            await _agents.AbortAsync(project, metadata.AgentSessionId, WorkspacePath(metadata.WorkspaceId), cancellationToken);
        }

        Finish(session, SessionStatus.Completed, error: null);
        await PersistAsync(session, cancellationToken);
        _audit.Write(new AuditEntry("session.end", "ok", actor, null, sessionId));
        return session.Metadata;
    }

    /// <summary>Forgets ended sessions older than the cut-off; returns their ids.</summary>
    public IReadOnlyList<string> Cleanup(Guid? projectId, double? maxAgeHours)
    {
        var hours = maxAgeHours ?? 24;
        if (hours is < 0 or > 24 * 3650)
        {
            throw new InvalidArgumentException($"max_age_hours {hours} is out of range (0..87600)");
        }

        var cutoff = _time.GetUtcNow() - TimeSpan.FromHours(hours);
        var removed = new List<string>();
        foreach (var session in _sessions.Values)
        {
            var metadata = session.Metadata;
            if ((projectId is null || metadata.ProjectId == projectId) && metadata.Ended && metadata.UpdatedAt <= cutoff
                && _sessions.TryRemove(metadata.SessionId, out _))
            {
                _byAgentSession.TryRemove((metadata.ProjectId, metadata.AgentSessionId), out _);
                _store.Delete(metadata.ProjectId, metadata.SessionId);
                removed.Add(metadata.SessionId);
            }
        }

        return removed;
    }

    /// <summary>At start-up: loads every session and reattaches to the agents of those still live.</summary>
    public async Task RecoverAsync(CancellationToken cancellationToken)
    {
        foreach (var project in await _projects.ListAllAsync(cancellationToken))
        {
            var live = false;
            foreach (var metadata in await _store.LoadAllAsync(project.Id, cancellationToken))
            {
                var restored = metadata with { ReservedEventIndex = metadata.ReservedEventIndex + IndexReservation };
                var session = new LiveSession(restored, new EventRing(_config.Server.EventBufferSize, metadata.ReservedEventIndex))
                {
                    PromptDelivered = metadata.Status == SessionStatus.Running,
                };
                _sessions[metadata.SessionId] = session;
                _byAgentSession[(project.Id, metadata.AgentSessionId)] = session;
                live |= !metadata.Ended;
                await PersistAsync(session, cancellationToken);
            }

            UpdateActiveGauge(project.Id);
            if (live)
            {
                try
                {
                    await _agents.EnsureAgentAsync(project, cancellationToken);
                }
                catch (Exception exception) when (exception is OublietteException or HttpRequestException or IOException)
                {
                    LogRecoveryFailed(_logger, project.Id, exception);
                }
            }
        }
    }

    private async Task StartTurnAsync(ProjectMetadata project, LiveSession session, string prompt, CancellationToken cancellationToken)
    {
        lock (session.Gate)
        {
            var metadata = session.Metadata;
            if (metadata.Ended)
            {
                throw new ConflictException($"session '{metadata.SessionId}' has ended ({metadata.Status}); spawn a new one");
            }

            if (metadata.Status == SessionStatus.Running)
            {
                throw new ConflictException($"session '{metadata.SessionId}' is running a turn; wait until it is idle, or end it");
            }

            session.TurnText.Clear();
            session.TurnFailed = false;
            session.PromptDelivered = false;
            session.TurnStart = (metadata.TokensIn, metadata.TokensOut, metadata.CostUsd);
            session.Metadata = metadata with
            {
                Status = SessionStatus.Running,
                Turns = [.. metadata.Turns, new TurnRecord(prompt, _time.GetUtcNow())],
                UpdatedAt = _time.GetUtcNow(),
            };
            session.SignalChange();
        }

        UpdateActiveGauge(project.Id);
        Emit(session, "status", status: SessionStatus.Running);
        await PersistAsync(session, cancellationToken);
        var metadataNow = session.Metadata;
        var model = metadataNow.Model.Split('/', 2);
        try
        {
            await _agents.EnsureAgentAsync(project, cancellationToken);
            await _agents.PromptAsync(project, metadataNow.AgentSessionId, WorkspacePath(metadataNow.WorkspaceId), prompt, new AgentModel(model[0], model[1]),
                PromptOptions.From(metadataNow.Autonomy, metadataNow.Reasoning), cancellationToken);
            session.PromptDelivered = true;
        }
        catch (Exception exception) when (exception is OublietteException or HttpRequestException or IOException)
        {
            Emit(session, "error", message: $"the prompt could not be delivered to the agent: {exception.Message}");
            Finish(session, SessionStatus.Failed, exception.Message);
            await PersistAsync(session, CancellationToken.None);
            throw;
        }
    }

    private async Task<Guid> ResolveWorkspaceAsync(ProjectMetadata project, SpawnRequest request, CancellationToken cancellationToken)
    {
        if (request.CreateWorkspace)
        {
            return (await _projects.CreateWorkspaceAsync(project.Id, null, null, cancellationToken)).Id;
        }

        if (request.WorkspaceId is { } workspaceId)
        {
            return project.Workspaces.Any(workspace => workspace.Id == workspaceId)
                ? workspaceId
                : throw new NotFoundException($"workspace '{workspaceId:D}' not found in project '{project.Id:D}'");
        }

        return project.DefaultWorkspaceId;
    }

    private LiveSession? FindResumable(Guid projectId, Guid workspaceId) => _sessions.Values
        .Where(session => session.Metadata is { Ended: false } metadata && metadata.ProjectId == projectId && metadata.WorkspaceId == workspaceId
            && metadata.Status is SessionStatus.Idle && metadata.Depth == 0)
        .OrderByDescending(session => session.Metadata.UpdatedAt)
        .FirstOrDefault();

    private int ActiveCount(Guid projectId) =>
        _sessions.Values.Count(session => session.Metadata is { Ended: false } metadata && metadata.ProjectId == projectId && !SessionStatus.IsFinal(metadata.Status));

    private LiveSession Require(string? sessionId)
    {
        if (string.IsNullOrWhiteSpace(sessionId))
        {
            throw new InvalidArgumentException("'session_id' is required");
        }

        return _sessions.TryGetValue(sessionId, out var session)
            ? session
            : throw new NotFoundException($"session '{sessionId}' not found");
    }

    private static string RequirePrompt(string? prompt) =>
        string.IsNullOrWhiteSpace(prompt) ? throw new InvalidArgumentException("'prompt' (or 'message') is required and must not be empty") : prompt;

    private static string WorkspacePath(Guid workspaceId) => $"/workspace/{workspaceId:D}";

    private static string NewSessionId(DateTimeOffset now) =>
        $"gogol_{now.UtcDateTime:yyyyMMdd}_{now.UtcDateTime:HHmmss}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";

    private static SpawnResult Result(LiveSession session, bool resumed) =>
        new(session.Metadata.SessionId, session.Metadata.Status, resumed, session.Metadata.WorkspaceId, session.Events.NextIndex - 1);

    private static void Subscribe(LiveSession session, ISessionSubscriber? subscriber)
    {
        if (subscriber is not null)
        {
            session.Subscribers[subscriber.Key] = subscriber;
        }
    }

    private void UpdateActiveGauge(Guid projectId)
    {
        var count = ActiveCount(projectId);
        _metrics.ActiveSessions.WithLabels(projectId.ToString("D")).Set(count);
        _activeCounts.Set(projectId, count);
    }

    [LoggerMessage(EventId = 40, Level = LogLevel.Warning, Message = "could not reattach to the agent of project {ProjectId} at start-up")]
    private static partial void LogRecoveryFailed(ILogger logger, Guid projectId, Exception exception);
}
