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
    // Limits are per project (a child stays in its parent's project): one project's cold start never holds up another's spawns.
    private readonly KeyedLocks _spawnLocks = new();
    private readonly ProjectService _projects;
    private readonly IAgentRuntime _agents;
    private readonly OpenCodeConfigWriter _models;
    private readonly SessionStore _store;
    private readonly OublietteConfig _config;
    private readonly OublietteMetrics _metrics;
    private readonly ActiveSessionCounts _activeCounts;
    private readonly AuditLog _audit;
    private readonly AgentToolCalls _agentToolCalls;
    private readonly TimeProvider _time;
    private readonly DeltaGathering _gathering;
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
        AgentToolCalls agentToolCalls,
        TimeProvider time,
        ILogger<SessionService> logger)
    {
        _agentToolCalls = agentToolCalls;
        _projects = projects;
        _agents = agents;
        _models = models;
        _store = store;
        _config = config;
        _metrics = metrics;
        _activeCounts = activeCounts;
        _audit = audit;
        _time = time;
        _gathering = new DeltaGathering(time);
        _logger = logger;
        hub.Subscribe(OnAgentEvent, OnAgentLost, OnAgentConnected);
    }

    public async Task<SpawnResult> SpawnAsync(SpawnRequest request, string actor, ISessionSubscriber? subscriber, CancellationToken cancellationToken)
    {
        var prompt = RequirePrompt(request.Prompt, "prompt");
        var project = await _projects.RequireAsync(request.ProjectId, cancellationToken);
        var parent = request.ParentSessionId is { } parentId ? Require(parentId) : null;
        if (parent is not null && parent.Metadata.ProjectId != project.Id)
        {
            throw new ForbiddenException($"session {parent.Metadata.SessionId} belongs to another project; its children stay in project {parent.Metadata.ProjectId:D}");
        }

        if (parent is not null && project.WorkspaceIsolation && request.WorkspaceId is { } asked && asked != parent.Metadata.WorkspaceId)
        {
            throw new ForbiddenException(
                $"project {project.Id:D} isolates its workspaces: a child of session {parent.Metadata.SessionId} works in its parent's workspace {parent.Metadata.WorkspaceId:D} or a new one (create_workspace), not in workspace {asked:D}");
        }

        // What the caller asked for is checked before anything happens, whether the spawn then resumes or starts afresh.
        var askedModel = request.Model is null ? null : _models.ModelFor(project, request.Model);
        var askedAutonomy = request.Autonomy is null ? null : ConfigParser.RequireLevel("autonomy", request.Autonomy);
        var askedReasoning = request.Reasoning is null ? null : ConfigParser.RequireLevel("reasoning", request.Reasoning);

        // A child works where its parent does (so the parent sees its files), unless it asks for another workspace.
        var workspaceId = parent is not null && request.WorkspaceId is null && !request.CreateWorkspace
            ? parent.Metadata.WorkspaceId
            : await ResolveWorkspaceAsync(project, request, cancellationToken);

        // A child is always a new session: resuming would hand the parent's prompt to a sibling (or to itself).
        if (parent is null && !request.NewSession && FindResumable(project.Id, workspaceId) is { } resumable)
        {
            Subscribe(resumable, subscriber);
            BindCaller(resumable, request.Caller);
            // The resumed session takes what was asked from this turn on; what was not asked stays as the session had it.
            await StartTurnAsync(project, resumable, prompt, cancellationToken,
                metadata => metadata with
                {
                    Model = askedModel is null ? metadata.Model : $"{askedModel.ProviderId}/{askedModel.ModelId}",
                    Autonomy = askedAutonomy ?? metadata.Autonomy,
                    Reasoning = askedReasoning ?? metadata.Reasoning,
                });
            return Result(resumable, resumed: true);
        }

        var model = askedModel ?? _models.ModelFor(project, null)
            ?? throw new InvalidArgumentException("no model is configured: in config/oubliette.jsonc add a provider credential (credentials.providers.credentials.<name>: {provider, api_key}), a model alias (models.models.<alias>: {model, provider: <name>}) and defaults.agent.model: <alias> (or models.defaults.session_model), then restart the server; or pass model");
        var autonomy = askedAutonomy ?? ConfigParser.RequireLevel("autonomy", project.Autonomy);
        var reasoning = askedReasoning ?? ConfigParser.RequireLevel("reasoning", project.Reasoning);

        LiveSession session;
        var spawnLock = await _spawnLocks.AcquireAsync(project.Id, cancellationToken);
        try
        {
            var limits = _projects.LimitsOf(project);
            if (parent is not null)
            {
                EnsureTreeMayGrow(parent.Metadata, limits);
            }

            var limit = limits.MaxActiveSessionsPerProject;
            var active = ActiveCount(project.Id);
            if (active >= limit)
            {
                _metrics.SessionsSpawned.WithLabels(project.Id.ToString("D"), "limit_reached").Inc();
                throw new LimitReachedException(
                    $"project {project.Id:D} already has {active} active session{(active == 1 ? "" : "s")} (max_active_sessions_per_project={limit}); end one or wait for it to finish");
            }

            var host = AgentHost.For(project, workspaceId);
            await _agents.EnsureAgentAsync(host, cancellationToken);
            var directory = WorkspacePath(workspaceId);
            var agentSessionId = await _agents.CreateSessionAsync(host, directory, cancellationToken);
            var now = _time.GetUtcNow();
            var id = NewSessionId(now);
            session = new LiveSession(
                new SessionMetadata
                {
                    SessionId = id,
                    ProjectId = project.Id,
                    WorkspaceId = workspaceId,
                    ParentSessionId = parent?.Metadata.SessionId,
                    RootSessionId = parent?.Metadata.RootSessionId ?? id,
                    Depth = parent is null ? 0 : parent.Metadata.Depth + 1,
                    Status = SessionStatus.Created,
                    AgentSessionId = agentSessionId,
                    Model = $"{model.ProviderId}/{model.ModelId}",
                    Autonomy = autonomy,
                    Reasoning = reasoning,
                    CreatedAt = now,
                    UpdatedAt = now,
                    ReservedEventIndex = IndexReservation,
                },
                new EventRing(_config.Server.EventBufferSize, byteLimit: _config.Server.EventBufferBytes));
            _sessions[id] = session;
            _byAgentSession[(project.Id, agentSessionId)] = session;
            UpdateActiveGauge(project.Id);
            if (parent is not null)
            {
                lock (parent.Gate)
                {
                    parent.Metadata = parent.Metadata with { Children = [.. parent.Metadata.Children, id], UpdatedAt = now };
                }
            }
        }
        finally
        {
            spawnLock.Dispose();
        }

        try
        {
            if (parent is not null)
            {
                await PersistAsync(parent, cancellationToken);
            }

            Subscribe(session, subscriber);
            BindCaller(session, request.Caller);
            Emit(session, "status", status: SessionStatus.Created);
            await PersistAsync(session, cancellationToken);
            await StartTurnAsync(project, session, prompt, cancellationToken);
        }
        catch
        {
            // A refused spawn leaves nothing behind: no session counted as active, no file, no child in the parent.
            await UnregisterAsync(session, parent);
            throw;
        }

        _audit.Write(new AuditEntry("session.spawn", "ok", actor, null, session.Metadata.SessionId, $"project={project.Id:D}"));
        _metrics.SessionsSpawned.WithLabels(project.Id.ToString("D"), "ok").Inc();
        return Result(session, resumed: false);
    }

    private async Task UnregisterAsync(LiveSession session, LiveSession? parent)
    {
        var metadata = session.Metadata;
        _sessions.TryRemove(metadata.SessionId, out _);
        _byAgentSession.TryRemove((metadata.ProjectId, metadata.AgentSessionId), out _);
        UpdateActiveGauge(metadata.ProjectId);
        try
        {
            _store.Delete(metadata.ProjectId, metadata.SessionId);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            LogPersistFailed(_logger, metadata.SessionId, exception);
        }

        if (parent is not null)
        {
            lock (parent.Gate)
            {
                parent.Metadata = parent.Metadata with { Children = [.. parent.Metadata.Children.Where(child => child != metadata.SessionId)] };
            }

            await PersistLoggedAsync(parent);
        }
    }

    public async Task<SpawnResult> MessageAsync(string sessionId, string? message, ISessionSubscriber? subscriber, CancellationToken cancellationToken, CallerBinding? caller = null)
    {
        var prompt = RequirePrompt(message, "message");
        var session = Require(sessionId);
        var project = await _projects.RequireAsync(session.Metadata.ProjectId, cancellationToken);
        if (session.Metadata.Status == SessionStatus.TimedOut)
        {
            await ResumeTimedOutAsync(project, session, prompt, () =>
            {
                Subscribe(session, subscriber);
                BindCaller(session, caller);
            }, cancellationToken);
            return Result(session, resumed: true);
        }

        Subscribe(session, subscriber);
        BindCaller(session, caller);
        await StartTurnAsync(project, session, prompt, cancellationToken);
        return Result(session, resumed: true);
    }

    public SessionMetadata Get(string sessionId) => Require(sessionId).Metadata;

    /// <summary>Whether <paramref name="sessionId"/> descends from <paramref name="ancestorId"/> (its child, grandchild…).</summary>
    public bool IsDescendant(string? sessionId, string? ancestorId)
    {
        var current = Require(sessionId).Metadata.ParentSessionId;
        while (current is not null && ancestorId is not null)
        {
            if (current == ancestorId)
            {
                return true;
            }

            current = _sessions.TryGetValue(current, out var parent) ? parent.Metadata.ParentSessionId : null;
        }

        return false;
    }

    /// <summary>
    /// In a project with workspace_isolation an agent reaches only the sessions of its own workspace (their events carry
    /// that workspace's files); elsewhere every session of its project.
    /// </summary>
    public void RequireSameIsolatedWorkspace(string targetSessionId, string? agentSessionId)
    {
        var target = Require(targetSessionId).Metadata;
        var calling = Require(agentSessionId).Metadata;
        if (target.WorkspaceId != calling.WorkspaceId && _projects.TryGetCached(target.ProjectId) is { WorkspaceIsolation: true })
        {
            throw new ForbiddenException(
                $"session {target.SessionId} works in another workspace of project {target.ProjectId:D}, which isolates its workspaces; an agent reaches only the sessions of its own workspace");
        }
    }

    /// <summary>The caller tools lent to a session, if any.</summary>
    public CallerBinding? CallerOf(string sessionId) => Require(sessionId).Caller;

    /// <summary>Caller tools lent to the live sessions of a project (what its agents may list).</summary>
    public IReadOnlyList<(string SessionId, CallerBinding Binding)> CallerBindings(Guid projectId) =>
        [.. _sessions.Values
            .Where(session => session.Metadata is { Ended: false } metadata && metadata.ProjectId == projectId && session.Caller is not null)
            .Select(session => (session.Metadata.SessionId, session.Caller!))];

    /// <summary>Where a session stands in its tree: depth, descendants of its root, and what the tree has spent.</summary>
    public SessionTree TreeOf(string sessionId)
    {
        var session = Require(sessionId);
        var members = TreeMembers(session.Metadata.RootSessionId).ToList();
        return new SessionTree(session.Metadata.SessionId, session.Metadata.RootSessionId, session.Metadata.Depth, members.Count - 1, members.Sum(member => member.Metadata.CostUsd));
    }

    private void EnsureTreeMayGrow(SessionMetadata parent, Projects.EffectiveLimits limits)
    {
        var depth = parent.Depth + 1;
        if (depth > limits.MaxRecursionDepth)
        {
            _metrics.SessionsSpawned.WithLabels(parent.ProjectId.ToString("D"), "limit_reached").Inc();
            throw new LimitReachedException(
                $"recursion depth limit: a child of session {parent.SessionId} would be at depth {depth}, beyond max_recursion_depth {limits.MaxRecursionDepth}");
        }

        var descendants = TreeMembers(parent.RootSessionId).Count() - 1;
        if (descendants >= limits.MaxAgentsPerSession)
        {
            _metrics.SessionsSpawned.WithLabels(parent.ProjectId.ToString("D"), "limit_reached").Inc();
            throw new LimitReachedException(
                $"session tree {parent.RootSessionId} already has {descendants} descendant sessions (max_agents_per_session={limits.MaxAgentsPerSession})");
        }
    }

    private static void RequireMaxEvents(int? maxEvents)
    {
        if (maxEvents is < 1 or > 10_000)
        {
            throw new InvalidArgumentException($"max_events {maxEvents} is out of range (1..10000)");
        }
    }

    private void BindCaller(LiveSession session, CallerBinding? caller)
    {
        if (caller is not null)
        {
            session.Caller = caller;
            CallerToolsChanged?.Invoke(session.Metadata.ProjectId);
        }
    }

    /// <summary>
    /// Raised with the project id when the caller tools lent to its live sessions change (lent, or their session ended),
    /// so that its agents can be told to list their tools again.
    /// </summary>
    public event Action<Guid>? CallerToolsChanged;

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
    /// event (long poll) so that a poller does not spin while the agent thinks, and a page that ends in text still
    /// streaming is held a moment while it grows (<see cref="DeltaGathering"/>).
    /// </summary>
    public async Task<(EventPage Page, string Status)> EventsAsync(
        string sessionId, long sinceIndex, int? maxEvents, double? waitSeconds, ISessionSubscriber? subscriber, CancellationToken cancellationToken)
    {
        if (waitSeconds is < 0 or > 300)
        {
            throw new InvalidArgumentException($"wait_seconds {waitSeconds} is out of range (0..300)");
        }

        if (waitSeconds is not > 0)
        {
            return Events(sessionId, sinceIndex, maxEvents, subscriber);
        }

        var session = Prepare(sessionId, sinceIndex, maxEvents, subscriber);
        if (!session.Metadata.Ended)
        {
            try
            {
                await session.Events.WhenAfterAsync(sinceIndex).WaitAsync(TimeSpan.FromSeconds(waitSeconds.Value), _time, cancellationToken);
                await _gathering.WhileGrowingAsync(session.Events, cancellationToken);
            }
            catch (TimeoutException)
            {
                // Nothing new in time: the page is empty.
            }
        }

        return (session.Events.Read(sinceIndex, maxEvents, _config.Server.MaxEventsPageBytes), session.Metadata.Status);
    }

    /// <summary>
    /// The events of a session and all its descendants, each tagged with its session id, read with one cursor per
    /// session (<paramref name="cursors"/>; the session itself may use <paramref name="sinceIndex"/>) so that nothing is
    /// skipped when <paramref name="maxEvents"/> cuts a page.
    /// </summary>
    public TreeEventPage TreeEvents(string sessionId, long sinceIndex, IReadOnlyDictionary<string, long>? cursors, int? maxEvents, ISessionSubscriber? subscriber)
    {
        RequireMaxEvents(maxEvents);

        var session = Require(sessionId);
        var members = new List<LiveSession>();
        var pending = new Queue<LiveSession>([session]);
        while (pending.TryDequeue(out var member))
        {
            members.Add(member);
            foreach (var child in member.Metadata.Children)
            {
                if (_sessions.TryGetValue(child, out var live))
                {
                    pending.Enqueue(live);
                }
            }
        }

        var names = members.Select(member => member.Metadata.SessionId).ToHashSet(StringComparer.Ordinal);
        foreach (var unknown in (cursors?.Keys ?? []).Where(key => !names.Contains(key)))
        {
            throw new InvalidArgumentException($"cursors: session '{unknown}' is not in the tree of {sessionId}");
        }

        Subscribe(session, subscriber);
        var remaining = maxEvents ?? int.MaxValue;
        long bytesLeft = _config.Server.MaxEventsPageBytes;
        var events = new List<SessionEvent>();
        var next = new Dictionary<string, long>(StringComparer.Ordinal);
        long dropped = 0;
        foreach (var member in members)
        {
            var id = member.Metadata.SessionId;
            var since = cursors is not null && cursors.TryGetValue(id, out var cursor) ? cursor : member == session ? sinceIndex : -1;
            if (remaining == 0)
            {
                next[id] = since;
                continue;
            }

            // The page's byte budget is shared by the members; only its first event may exceed it (a page always moves on).
            var page = member.Events.Read(since, remaining, bytesLeft, atLeastOne: events.Count == 0);
            events.AddRange(page.Events);
            remaining -= page.Events.Count;
            bytesLeft -= page.Events.Sum(EventRing.SizeOf);
            if (bytesLeft <= 0 || page.LastIndex < member.Events.NewestIndex)
            {
                // The page is full (events or bytes): the members after this one wait for the next poll, at their cursors.
                remaining = 0;
            }

            dropped += page.Dropped;
            next[id] = page.LastIndex;
        }

        return new TreeEventPage([.. events.OrderBy(item => item.Timestamp).ThenBy(item => item.Index)], next, dropped);
    }

    public (EventPage Page, string Status) Events(string sessionId, long sinceIndex, int? maxEvents, ISessionSubscriber? subscriber)
    {
        var session = Prepare(sessionId, sinceIndex, maxEvents, subscriber);
        return (session.Events.Read(sinceIndex, maxEvents, _config.Server.MaxEventsPageBytes), session.Metadata.Status);
    }

    private LiveSession Prepare(string sessionId, long sinceIndex, int? maxEvents, ISessionSubscriber? subscriber)
    {
        if (sinceIndex < -1)
        {
            throw new InvalidArgumentException($"since_index {sinceIndex} is not valid (-1 for all buffered events, or an event index)");
        }

        RequireMaxEvents(maxEvents);

        var session = Require(sessionId);
        Subscribe(session, subscriber);
        return session;
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
                return new WaitResult(sessionId, status, true, session.Events.TakeCursor());
            }

            try
            {
                await changed.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return new WaitResult(sessionId, session.Metadata.Status, false, session.Events.TakeCursor());
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
            await _agents.AbortAsync(AgentHost.For(project, metadata.WorkspaceId), metadata.AgentSessionId, WorkspacePath(metadata.WorkspaceId), cancellationToken);
        }

        Finish(session, SessionStatus.Completed, error: null);
        await PersistAsync(session, cancellationToken);
        _audit.Write(new AuditEntry("session.end", "ok", actor, null, sessionId));
        return session.Metadata;
    }

    /// <summary>Forgets ended and timed-out session trees older than the cut-off (see <see cref="RemoveEnded"/>); returns their ids.</summary>
    public IReadOnlyList<string> Cleanup(Guid? projectId, double? maxAgeHours)
    {
        var hours = maxAgeHours ?? 24;
        if (hours is < 0 or > 24 * 3650)
        {
            throw new InvalidArgumentException($"max_age_hours {hours} is out of range (0..87600)");
        }

        return RemoveEnded(_time.GetUtcNow() - TimeSpan.FromHours(hours), projectId);
    }

    /// <summary>At start-up: loads every session; returns the hosts (containers) with live sessions, whose agents to reattach.</summary>
    public async Task<IReadOnlyList<AgentHost>> RecoverAsync(CancellationToken cancellationToken)
    {
        var hosts = new List<AgentHost>();
        foreach (var project in await _projects.ListAllAsync(cancellationToken))
        {
            var liveHosts = new Dictionary<Guid, AgentHost>();
            foreach (var metadata in await _store.LoadAllAsync(project.Id, cancellationToken))
            {
                var restored = metadata with { ReservedEventIndex = metadata.ReservedEventIndex + IndexReservation };
                var session = new LiveSession(restored, new EventRing(_config.Server.EventBufferSize, metadata.ReservedEventIndex, _config.Server.EventBufferBytes, metadata.LastEventIndex))
                {
                    PromptDelivered = metadata.Status == SessionStatus.Running,
                };
                _sessions[metadata.SessionId] = session;
                _byAgentSession[(project.Id, metadata.AgentSessionId)] = session;
                if (!metadata.Ended)
                {
                    var host = AgentHost.For(project, metadata.WorkspaceId);
                    liveHosts[host.Key] = host;
                }

                await PersistLoggedAsync(session);
            }

            UpdateActiveGauge(project.Id);
            foreach (var host in liveHosts.Values)
            {
                hosts.Add(host);
            }
        }

        return hosts;
    }

    /// <summary>Reattaches to a host's agent so that its live sessions' events flow again (start-up, in the background).</summary>
    public async Task ReattachAgentAsync(AgentHost host, CancellationToken cancellationToken)
    {
        try
        {
            await _agents.EnsureAgentAsync(host, cancellationToken);
        }
        catch (Exception exception) when (exception is OublietteException or HttpRequestException or IOException)
        {
            LogRecoveryFailed(_logger, host.Project.Id, exception);
            throw;
        }
    }

    private async Task StartTurnAsync(ProjectMetadata project, LiveSession session, string prompt, CancellationToken cancellationToken,
        Func<SessionMetadata, SessionMetadata>? settings = null)
    {
        SessionMetadata before;
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

            before = metadata;
            session.TurnText.Clear();
            session.TurnTextTruncated = false;
            session.TurnFailed = false;
            session.PromptDelivered = false;
            session.TurnStart = (metadata.TokensIn, metadata.TokensOut, metadata.CostUsd);
            session.Metadata = (settings?.Invoke(metadata) ?? metadata) with
            {
                Status = SessionStatus.Running,
                // The record keeps the start of the prompt: it is persisted on every state change, and the agent has the whole.
                Turns = [.. metadata.Turns, new TurnRecord(PromptExcerpt(prompt), _time.GetUtcNow())],
                UpdatedAt = _time.GetUtcNow(),
            };
            session.SignalChange();
        }

        UpdateActiveGauge(project.Id);
        var saved = false;
        try
        {
            await PersistAsync(session, cancellationToken);
            saved = true;
            Emit(session, "status", status: SessionStatus.Running);
            var metadataNow = session.Metadata;
            var model = metadataNow.Model.Split('/', 2);
            var host = AgentHost.For(project, metadataNow.WorkspaceId);
            await _agents.EnsureAgentAsync(host, cancellationToken);
            await _agents.PromptAsync(host, metadataNow.AgentSessionId, WorkspacePath(metadataNow.WorkspaceId), prompt, new AgentModel(model[0], model[1]),
                PromptOptions.From(metadataNow.Autonomy, metadataNow.Reasoning), cancellationToken);
            session.PromptDelivered = true;
        }
        catch (Exception exception) when (!session.PromptDelivered)
        {
            // The agent never got the prompt: the session stays as it was before the call (status, turns), never stuck running.
            await UndoTurnAsync(session, before, emitted: saved, persist: saved);
            if (exception is HttpRequestException or IOException)
            {
                throw new ExternalFailureException(
                    $"the prompt could not be delivered to the agent of project {project.Id:D}: {exception.Message}; session {before.SessionId} is unchanged ({before.Status})");
            }

            throw;
        }
    }

    private async Task UndoTurnAsync(LiveSession session, SessionMetadata before, bool emitted, bool persist)
    {
        lock (session.Gate)
        {
            var current = session.Metadata;
            if (current.Ended || current.Status != SessionStatus.Running)
            {
                return;
            }

            session.Metadata = current with
            {
                Status = before.Status, Turns = before.Turns, Error = before.Error, UpdatedAt = before.UpdatedAt,
                Model = before.Model, Autonomy = before.Autonomy, Reasoning = before.Reasoning,
            };
            session.SignalChange();
        }

        UpdateActiveGauge(before.ProjectId);
        if (emitted)
        {
            Emit(session, "status", status: before.Status);
        }

        if (persist)
        {
            await PersistLoggedAsync(session);
        }
    }

    private async Task<Guid> ResolveWorkspaceAsync(ProjectMetadata project, SpawnRequest request, CancellationToken cancellationToken)
    {
        if (request.CreateWorkspace)
        {
            return (await _projects.CreateWorkspaceAsync(project.Id, null, null, null, cancellationToken)).Id;
        }

        if (request.WorkspaceId is { } workspaceId)
        {
            return project.Workspaces.Any(workspace => workspace.Id == workspaceId)
                ? workspaceId
                : throw new NotFoundException($"workspace_id '{workspaceId:D}' not found in project '{project.Id:D}'");
        }

        return project.DefaultWorkspaceId;
    }

    private LiveSession? FindResumable(Guid projectId, Guid workspaceId) => _sessions.Values
        .Where(session => session.Metadata is { Ended: false } metadata && metadata.ProjectId == projectId && metadata.WorkspaceId == workspaceId
            && metadata.Status is SessionStatus.Idle && metadata.Depth == 0)
        .OrderByDescending(session => session.Metadata.UpdatedAt)
        .FirstOrDefault();

    // Running and idle sessions (and one being spawned, created for the moment before its first turn); never timed_out.
    private int ActiveCount(Guid projectId) =>
        _sessions.Values.Count(session => session.Metadata is { Ended: false, Status: SessionStatus.Running or SessionStatus.Idle or SessionStatus.Created } metadata
            && metadata.ProjectId == projectId);

    private LiveSession Require(string? sessionId)
    {
        if (string.IsNullOrWhiteSpace(sessionId))
        {
            throw new InvalidArgumentException("'session_id' is required");
        }

        return _sessions.TryGetValue(sessionId, out var session)
            ? session
            : throw new NotFoundException($"session_id '{sessionId}' not found");
    }

    private string RequirePrompt(string? prompt, string field)
    {
        if (string.IsNullOrWhiteSpace(prompt))
        {
            throw new InvalidArgumentException("'prompt' (or 'message') is required and must not be empty");
        }

        RequirePromptSize(field, prompt, _config.Server.MaxPromptBytes);
        return prompt;
    }

    /// <summary>Refuses a prompt larger than <c>server.max_prompt_bytes</c>, naming the field, its size and the limit.</summary>
    public static void RequirePromptSize(string field, string? prompt, int maxBytes)
    {
        // A UTF-16 character is at most 3 UTF-8 bytes: most prompts are cleared without counting.
        if (prompt is null || prompt.Length <= maxBytes / 3)
        {
            return;
        }

        var bytes = System.Text.Encoding.UTF8.GetByteCount(prompt);
        if (bytes > maxBytes)
        {
            throw new InvalidArgumentException(
                $"'{field}' is {bytes} bytes (UTF-8), more than the {maxBytes} allowed (server.max_prompt_bytes); send less, or put large material in a file in the workspace");
        }
    }

    private static string WorkspacePath(Guid workspaceId) => $"/workspace/{workspaceId:D}";

    private static string NewSessionId(DateTimeOffset now) =>
        $"gogol_{now.UtcDateTime:yyyyMMdd}_{now.UtcDateTime:HHmmss}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";

    private static SpawnResult Result(LiveSession session, bool resumed) =>
        new(session.Metadata.SessionId, session.Metadata.Status, resumed, session.Metadata.WorkspaceId, session.Events.TakeCursor());

    /// <summary>Pushes the session's events to <paramref name="subscriber"/> from now on (a resource subscription).</summary>
    public void Watch(string sessionId, ISessionSubscriber subscriber) => Subscribe(Require(sessionId), subscriber);

    /// <summary>Stops pushing to every subscriber whose key <paramref name="gone"/> names (their clients went away).</summary>
    public void Unwatch(string sessionId, Func<string, bool> gone)
    {
        var subscribers = Require(sessionId).Subscribers;
        foreach (var key in subscribers.Keys)
        {
            if (gone(key))
            {
                subscribers.TryRemove(key, out _);
            }
        }
    }

    /// <summary>How many subscribers a session pushes to (for tests).</summary>
    internal int SubscriberCount(string sessionId) => Require(sessionId).Subscribers.Count;

    /// <summary>Stops pushing to the subscriber with this key; nothing happens when it was not watching.</summary>
    public void Unwatch(string sessionId, string key) => Require(sessionId).Subscribers.TryRemove(key, out _);

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
