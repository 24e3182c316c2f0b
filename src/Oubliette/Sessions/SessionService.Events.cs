using System.Text.Json;
using Oubliette.Agents;
using Oubliette.Agents.OpenCode;
using Oubliette.Projects;

namespace Oubliette.Sessions;

public sealed partial class SessionService
{
    private const int OutputExcerptLength = 2000;

    /// <summary>The gateway measured a model call made for an agent session.</summary>
    public void RecordUsage(Guid projectId, string? agentSessionId, long tokensIn, long tokensOut, double cost)
    {
        var project = projectId.ToString("D");
        _metrics.LlmTokens.WithLabels(project, "input").Inc(tokensIn);
        _metrics.LlmTokens.WithLabels(project, "output").Inc(tokensOut);
        _metrics.LlmCost.WithLabels(project).Inc(cost);
        if (agentSessionId is null || !_byAgentSession.TryGetValue((projectId, agentSessionId), out var session))
        {
            return;
        }

        lock (session.Gate)
        {
            var metadata = session.Metadata;
            session.Metadata = metadata with
            {
                TokensIn = metadata.TokensIn + tokensIn,
                TokensOut = metadata.TokensOut + tokensOut,
                CostUsd = metadata.CostUsd + cost,
                UpdatedAt = _time.GetUtcNow(),
            };
        }

        _ = PersistLoggedAsync(session);
        EnforceBudget(session);
    }

    /// <summary>Null when the session's tree may still spend; else why not (the gateway refuses the call).</summary>
    public string? BudgetRefusal(Guid projectId, string? agentSessionId)
    {
        if (agentSessionId is null || !_byAgentSession.TryGetValue((projectId, agentSessionId), out var session))
        {
            return null;
        }

        var (cost, limit) = TreeCost(session);
        return cost >= limit && limit > 0 || session.Metadata.Ended
            ? $"session tree {session.Metadata.RootSessionId} has spent ${cost:0.######}, which reaches max_cost_usd ${limit:0.######}"
            : null;
    }

    private void EnforceBudget(LiveSession session)
    {
        var (cost, limit) = TreeCost(session);
        if (cost <= limit)
        {
            return;
        }

        var root = session.Metadata.RootSessionId;
        foreach (var member in _sessions.Values.Where(candidate => candidate.Metadata.RootSessionId == root && !candidate.Metadata.Ended))
        {
            Emit(member, "error", message: $"budget exceeded: session tree {root} has spent ${cost:0.######}, more than max_cost_usd ${limit:0.######}; the tree is stopped");
            _ = AbortLoggedAsync(member);
            Finish(member, SessionStatus.Failed, $"budget exceeded: ${cost:0.######} > max_cost_usd ${limit:0.######}");
            _ = PersistLoggedAsync(member);
        }
    }

    private (double Cost, double Limit) TreeCost(LiveSession session)
    {
        var cost = TreeMembers(session.Metadata.RootSessionId).Sum(candidate => candidate.Metadata.CostUsd);
        var limit = _projects.TryGetCached(session.Metadata.ProjectId) is { } project ? _projects.LimitsOf(project).MaxCostUsd : _config.Defaults.Limits.MaxCostUsd;
        return (cost, limit);
    }

    /// <summary>Every session of one tree, the root included.</summary>
    private IEnumerable<LiveSession> TreeMembers(string rootSessionId) =>
        _sessions.Values.Where(candidate => candidate.Metadata.RootSessionId == rootSessionId);

    private void OnAgentEvent(Guid projectId, AgentEvent agentEvent)
    {
        if (!_byAgentSession.TryGetValue((projectId, agentEvent.AgentSessionId), out var session) || session.Metadata.Ended)
        {
            return;
        }

        switch (agentEvent.Kind)
        {
            case AgentEventKind.Busy:
                if (session.Metadata.Status != SessionStatus.Running)
                {
                    SetStatus(session, SessionStatus.Running);
                    Emit(session, "status", status: SessionStatus.Running);
                }

                break;
            case AgentEventKind.Delta:
                EmitDelta(session, agentEvent.Text ?? "", agentEvent.Truncated);
                break;
            case AgentEventKind.Message:
                var said = Bounded(agentEvent.Text, out var cut);
                lock (session.Gate)
                {
                    // The completion repeats the last message: it is as bounded as the message's event.
                    session.TurnText.Clear().Append(said);
                    session.TurnTextTruncated = cut || agentEvent.Truncated;
                }

                Emit(session, "message", text: said, truncated: cut || agentEvent.Truncated);
                break;
            case AgentEventKind.ToolCall:
                if (agentEvent.Tool?.StartsWith(OpenCodeConfigWriter.McpServerName + "_", StringComparison.Ordinal) == true && agentEvent.CallId is { } callId)
                {
                    _agentToolCalls.Started(projectId, session.Metadata.SessionId, callId, agentEvent.Tool, agentEvent.Input);
                }

                Emit(session, "tool_call", tool: agentEvent.Tool, callId: agentEvent.CallId, input: agentEvent.Input, truncated: agentEvent.Truncated);
                break;
            case AgentEventKind.ToolResult:
                if (agentEvent.CallId is { } finishedCall)
                {
                    _agentToolCalls.Finished(finishedCall);
                }

                Emit(session, "tool_result", tool: agentEvent.Tool, callId: agentEvent.CallId, output: Excerpt(agentEvent.Text), isError: agentEvent.IsError,
                    truncated: agentEvent.Truncated);
                break;
            case AgentEventKind.Error:
                lock (session.Gate)
                {
                    session.TurnFailed = true;
                    session.Metadata = session.Metadata with { Error = Excerpt(agentEvent.Text) };
                }

                Emit(session, "error", message: agentEvent.Text, truncated: agentEvent.Truncated);
                break;
            case AgentEventKind.Retry:
                Emit(session, "error", message: agentEvent.Text, truncated: agentEvent.Truncated);
                break;
            case AgentEventKind.Idle:
                CompleteTurn(session);
                break;
        }
    }

    private void OnAgentLost(AgentHost host, string reason)
    {
        foreach (var session in _sessions.Values.Where(candidate => Runs(host, candidate.Metadata) && candidate.Metadata is { Ended: false, Status: SessionStatus.Running }))
        {
            Emit(session, "error", message: $"the agent is gone: {reason}; the turn cannot finish");
            Finish(session, SessionStatus.Failed, $"the agent is gone: {reason}");
            _ = PersistLoggedAsync(session);
        }
    }

    private void OnAgentConnected(AgentHost host) => _ = ReconcileAsync(host);

    /// <summary>Whether the session's agent runs on this host (its project's shared container, or its isolated workspace's).</summary>
    private static bool Runs(AgentHost host, SessionMetadata session) =>
        session.ProjectId == host.Project.Id && host.Serves(session.WorkspaceId);

    /// <summary>
    /// After the event stream was (re)attached, a turn that ended inside the gap would wait forever for its idle event:
    /// ask the agent which sessions are still busy and finish the others' turns.
    /// </summary>
    private async Task ReconcileAsync(AgentHost host)
    {
        try
        {
            var running = _sessions.Values
                .Where(session => session.Metadata is { Ended: false, Status: SessionStatus.Running } metadata && Runs(host, metadata) && session.PromptDelivered)
                .ToList();
            if (running.Count == 0)
            {
                return;
            }

            foreach (var group in running.GroupBy(session => session.Metadata.WorkspaceId))
            {
                var busy = await _agents.BusySessionsAsync(host, WorkspacePath(group.Key), CancellationToken.None);
                foreach (var session in group.Where(session => !busy.Contains(session.Metadata.AgentSessionId)))
                {
                    LogReconciled(_logger, session.Metadata.SessionId);
                    CompleteTurn(session);
                }
            }
        }
        catch (Exception exception) when (exception is Errors.OublietteException or HttpRequestException or IOException or JsonException)
        {
            LogReconcileFailed(_logger, host.Project.Id, exception.Message);
        }
    }

    private void CompleteTurn(LiveSession session)
    {
        string text;
        bool textTruncated;
        bool failed;
        (long In, long Out, double Cost) start;
        SessionMetadata metadata;
        // Idle before the completion is visible: a client that sees the completion may message the session at once.
        lock (session.Gate)
        {
            var current = session.Metadata;
            if (current.Status != SessionStatus.Running)
            {
                return;
            }

            text = session.TurnText.ToString();
            textTruncated = session.TurnTextTruncated;
            failed = session.TurnFailed;
            start = session.TurnStart;
            var turns = current.Turns.ToList();
            // A turn whose delivery was refused is not recorded; a late idle must not overwrite the finished turn before it.
            if (turns.Count > 0 && turns[^1].FinishedAt is null)
            {
                turns[^1] = turns[^1] with { FinishedAt = _time.GetUtcNow(), OutputExcerpt = Excerpt(text), Error = failed ? current.Error : null };
            }

            metadata = current with { Status = SessionStatus.Idle, Turns = turns, UpdatedAt = _time.GetUtcNow() };
            session.Metadata = metadata;
        }

        _agentToolCalls.ForgetSession(session.Metadata.SessionId);
        if (!failed)
        {
            Emit(session, "completion", text: text, tokensIn: metadata.TokensIn - start.In, tokensOut: metadata.TokensOut - start.Out, cost: metadata.CostUsd - start.Cost,
                truncated: textTruncated);
        }

        lock (session.Gate)
        {
            session.SignalChange();
        }

        Emit(session, "status", status: SessionStatus.Idle);
        UpdateActiveGauge(metadata.ProjectId);
        _ = PersistLoggedAsync(session);
    }

    private void SetStatus(LiveSession session, string status)
    {
        lock (session.Gate)
        {
            session.Metadata = session.Metadata with { Status = status, UpdatedAt = _time.GetUtcNow() };
            session.SignalChange();
        }
    }

    private void Finish(LiveSession session, string status, string? error)
    {
        lock (session.Gate)
        {
            if (session.Metadata.Ended)
            {
                return;
            }

            session.Metadata = session.Metadata with { Status = status, Ended = true, Error = error ?? session.Metadata.Error, UpdatedAt = _time.GetUtcNow() };
            session.SignalChange();
        }

        _agentToolCalls.ForgetSession(session.Metadata.SessionId);
        if (session.Caller is not null)
        {
            // Its lent tools are no longer offered.
            CallerToolsChanged?.Invoke(session.Metadata.ProjectId);
        }

        Emit(session, "status", status: status);
        _metrics.SessionDuration.Observe((_time.GetUtcNow() - session.Metadata.CreatedAt).TotalSeconds);
        UpdateActiveGauge(session.Metadata.ProjectId);
    }

    private void Emit(
        LiveSession session,
        string type,
        string? text = null,
        string? tool = null,
        string? callId = null,
        JsonElement? input = null,
        string? output = null,
        bool? isError = null,
        long? tokensIn = null,
        long? tokensOut = null,
        double? cost = null,
        string? status = null,
        string? message = null,
        bool truncated = false)
    {
        var sessionId = session.Metadata.SessionId;
        var now = _time.GetUtcNow();
        // Whatever the agent sent, one event keeps at most server.max_event_bytes of each of its texts and of its input.
        text = Bounded(text, out var textCut);
        output = Bounded(output, out var outputCut);
        message = Bounded(message, out var messageCut);
        var inputCut = false;
        if (input is { } given)
        {
            input = BoundedText.Truncate(given, _config.Server.MaxEventBytes, out inputCut);
        }

        bool? marked = truncated || textCut || outputCut || messageCut || inputCut ? true : null;
        var appended = session.Events.Append(index =>
            new SessionEvent(index, now, type, sessionId, text, tool, callId, input, output, isError, tokensIn, tokensOut, cost, status, message, marked));
        Appended(session, appended);

        foreach (var subscriber in session.Subscribers.Values)
        {
            if (subscriber.Wants(type))
            {
                _ = PushAsync(session, subscriber, appended);
            }
        }
    }

    /// <summary>A text delta: a new event, or more text for the newest one while nobody has read it (see <see cref="EventRing"/>).</summary>
    private void EmitDelta(LiveSession session, string text, bool truncated)
    {
        var bounded = BoundedText.Truncate(text, _config.Server.MaxEventBytes, out var cut);
        if (truncated || cut)
        {
            // A cut delta stands alone, marked, rather than merged into text that was not cut.
            Emit(session, "delta", text: bounded, truncated: true);
            return;
        }

        if (session.Events.AppendDelta(session.Metadata.SessionId, _time.GetUtcNow(), bounded) is { } appended)
        {
            Appended(session, appended);
        }
    }

    private string? Bounded(string? text, out bool truncated)
    {
        truncated = false;
        return text is null ? null : BoundedText.Truncate(text, _config.Server.MaxEventBytes, out truncated);
    }

    private void Appended(LiveSession session, SessionEvent appended)
    {
        _metrics.SessionEvents.WithLabels(appended.Type).Inc();
        if (appended.Index >= session.Metadata.ReservedEventIndex)
        {
            lock (session.Gate)
            {
                session.Metadata = session.Metadata with { ReservedEventIndex = appended.Index + IndexReservation };
            }

            _ = PersistLoggedAsync(session);
        }
    }

    private async Task PushAsync(LiveSession session, ISessionSubscriber subscriber, SessionEvent sessionEvent)
    {
        try
        {
            await subscriber.NotifyAsync(sessionEvent, CancellationToken.None);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // The client went away: stop pushing to it (it can still poll with events).
            session.Subscribers.TryRemove(subscriber.Key, out _);
            LogPushFailed(_logger, subscriber.Key, exception.Message);
        }
    }

    private async Task PersistAsync(LiveSession session, CancellationToken cancellationToken)
    {
        await session.PersistGate.WaitAsync(cancellationToken);
        try
        {
            await _store.SaveAsync(session.Metadata with { LastEventIndex = session.Events.LastExistingIndex }, cancellationToken);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new Errors.ExternalFailureException($"could not save session {session.Metadata.SessionId}: {Storage.StorageErrors.Describe(exception)}");
        }
        finally
        {
            session.PersistGate.Release();
        }
    }

    private async Task PersistLoggedAsync(LiveSession session)
    {
        try
        {
            await PersistAsync(session, CancellationToken.None);
        }
        catch (Errors.ExternalFailureException exception)
        {
            LogPersistFailed(_logger, session.Metadata.SessionId, exception);
        }
    }

    private async Task AbortLoggedAsync(LiveSession session)
    {
        try
        {
            if (_projects.TryGetCached(session.Metadata.ProjectId) is { } project)
            {
                await _agents.AbortAsync(AgentHost.For(project, session.Metadata.WorkspaceId), session.Metadata.AgentSessionId, WorkspacePath(session.Metadata.WorkspaceId), CancellationToken.None);
            }
        }
        catch (Exception exception) when (exception is Errors.OublietteException or HttpRequestException or IOException)
        {
            LogAbortFailed(_logger, session.Metadata.SessionId, exception.Message);
        }
    }

    private static string? Excerpt(string? text) => text is { Length: > OutputExcerptLength } ? text[..CutAt(text, OutputExcerptLength)] + "…" : text;

    /// <summary>The start of a long prompt, marked with its full size (a turn record keeps no more).</summary>
    private static string PromptExcerpt(string prompt) =>
        prompt.Length > OutputExcerptLength
            ? $"{prompt[..CutAt(prompt, OutputExcerptLength)]}… [excerpt: {OutputExcerptLength} of {prompt.Length} characters]"
            : prompt;

    /// <summary><paramref name="length"/>, or one less when that would split a surrogate pair.</summary>
    private static int CutAt(string text, int length) => char.IsHighSurrogate(text[length - 1]) ? length - 1 : length;

    [LoggerMessage(EventId = 44, Level = LogLevel.Information, Message = "session {SessionId}: its turn ended while the event stream was away; reconciled")]
    private static partial void LogReconciled(ILogger logger, string sessionId);

    [LoggerMessage(EventId = 45, Level = LogLevel.Warning, Message = "could not reconcile the sessions of project {ProjectId}: {Reason}")]
    private static partial void LogReconcileFailed(ILogger logger, Guid projectId, string reason);

    [LoggerMessage(EventId = 41, Level = LogLevel.Information, Message = "stopped pushing to {Subscriber}: {Reason}")]
    private static partial void LogPushFailed(ILogger logger, string subscriber, string reason);

    [LoggerMessage(EventId = 42, Level = LogLevel.Error, Message = "could not persist session {SessionId}")]
    private static partial void LogPersistFailed(ILogger logger, string sessionId, Exception exception);

    [LoggerMessage(EventId = 43, Level = LogLevel.Warning, Message = "could not abort session {SessionId}: {Reason}")]
    private static partial void LogAbortFailed(ILogger logger, string sessionId, string reason);
}
