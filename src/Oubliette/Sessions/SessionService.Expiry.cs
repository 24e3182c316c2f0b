using Oubliette.Errors;
using Oubliette.Projects;

namespace Oubliette.Sessions;

/// <summary>
/// The idle timeout and the removal of ended sessions (SPEC §6, §9). <c>timed_out</c> is a parked state, not an end:
/// the session no longer counts as active (its slot is free, <c>project delete</c> does not wait for it), and a
/// <c>message</c> naming its session_id resumes it when the project has a free slot. Cleanup forgets it, as it forgets
/// completed and failed sessions, <c>defaults.cleanup.retention_minutes</c> after it timed out.
/// </summary>
public sealed partial class SessionService
{
    /// <summary>
    /// Sessions idle (or created and never started) for <c>defaults.limits.session_idle_timeout_minutes</c> or longer,
    /// counted from the end of their last turn, become <c>timed_out</c>; a running turn never times out. Returns how many.
    /// </summary>
    public int TimeOutIdle()
    {
        var timeout = TimeSpan.FromMinutes(_config.Defaults.Limits.SessionIdleTimeoutMinutes);
        var now = _time.GetUtcNow();
        var projects = new HashSet<Guid>();
        var count = 0;
        foreach (var session in _sessions.Values)
        {
            // A cheap unlocked look first: most sessions are not due.
            if (!IsIdleFor(session.Metadata, timeout, now))
            {
                continue;
            }

            lock (session.Gate)
            {
                if (!IsIdleFor(session.Metadata, timeout, now))
                {
                    continue;
                }

                session.Metadata = session.Metadata with { Status = SessionStatus.TimedOut, UpdatedAt = now };
                session.SignalChange();
            }

            var metadata = session.Metadata;
            count++;
            projects.Add(metadata.ProjectId);
            if (session.Caller is not null)
            {
                // Its lent tools are no longer offered; a resuming message may lend them again.
                session.Caller = null;
                CallerToolsChanged?.Invoke(metadata.ProjectId);
            }

            Emit(session, "status", status: SessionStatus.TimedOut);
            LogTimedOut(_logger, metadata.SessionId, (int)timeout.TotalMinutes);
            // A session of a deleted project is not saved: that would bring its folder back.
            if (_projects.TryGetCached(metadata.ProjectId) is not null)
            {
                _ = PersistLoggedAsync(session);
            }
        }

        foreach (var project in projects)
        {
            UpdateActiveGauge(project);
        }

        return count;
    }

    /// <summary>
    /// Forgets, in memory and on disk, every session tree whose members all ended (completed, failed) or timed out at or
    /// before <paramref name="cutoff"/>: a tree goes as a whole, so a live child never loses its root (nor the root's cost,
    /// which counts against max_cost_usd). Returns the removed session ids.
    /// </summary>
    public IReadOnlyList<string> RemoveEnded(DateTimeOffset cutoff, Guid? projectId = null)
    {
        var removed = new List<string>();
        foreach (var tree in _sessions.Values.GroupBy(session => session.Metadata.RootSessionId, StringComparer.Ordinal))
        {
            var members = tree.ToList();
            if ((projectId is not null && members[0].Metadata.ProjectId != projectId) || !members.TrueForAll(member => IsOver(member.Metadata, cutoff)))
            {
                continue;
            }

            foreach (var member in members)
            {
                lock (member.Gate)
                {
                    // Resumed in the meantime: it stays. Otherwise it is closed for good, so a message that found it
                    // just before cannot start a turn on a forgotten session.
                    if (!IsOver(member.Metadata, cutoff))
                    {
                        continue;
                    }

                    member.Metadata = member.Metadata with { Ended = true };
                    member.SignalChange();
                }

                var metadata = member.Metadata;
                if (_sessions.TryRemove(metadata.SessionId, out _))
                {
                    _byAgentSession.TryRemove((metadata.ProjectId, metadata.AgentSessionId), out _);
                    try
                    {
                        _store.Delete(metadata.ProjectId, metadata.SessionId);
                    }
                    catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
                    {
                        LogPersistFailed(_logger, metadata.SessionId, exception);
                    }

                    removed.Add(metadata.SessionId);
                }
            }
        }

        return removed;
    }

    /// <summary>
    /// A timed-out session resumes only into a free slot of its project, checked under the project's spawn lock;
    /// <paramref name="bind"/> runs once the slot is granted (a refused resume changes nothing).
    /// </summary>
    private async Task ResumeTimedOutAsync(ProjectMetadata project, LiveSession session, string prompt, Action bind, CancellationToken cancellationToken)
    {
        using var spawnLock = await _spawnLocks.AcquireAsync(project.Id, cancellationToken);
        var limit = _projects.LimitsOf(project).MaxActiveSessionsPerProject;
        var active = ActiveCount(project.Id);
        if (active >= limit)
        {
            throw new LimitReachedException(
                $"session {session.Metadata.SessionId} timed out and cannot resume: project {project.Id:D} already has {active} active session{(active == 1 ? "" : "s")} (max_active_sessions_per_project={limit}); end one or wait for it to finish");
        }

        bind();
        await StartTurnAsync(project, session, prompt, cancellationToken);
    }

    private static bool IsIdleFor(SessionMetadata metadata, TimeSpan timeout, DateTimeOffset now) =>
        metadata is { Ended: false, Status: SessionStatus.Idle or SessionStatus.Created } && now - IdleSince(metadata) >= timeout;

    /// <summary>The end of the last turn (a late usage record may move UpdatedAt, not this); creation for a session without one.</summary>
    private static DateTimeOffset IdleSince(SessionMetadata metadata) =>
        metadata.Turns.Count > 0 && metadata.Turns[^1].FinishedAt is { } finished ? finished : metadata.UpdatedAt;

    private static bool IsOver(SessionMetadata metadata, DateTimeOffset cutoff) =>
        (metadata.Ended || metadata.Status == SessionStatus.TimedOut) && metadata.UpdatedAt <= cutoff;

    [LoggerMessage(EventId = 46, Level = LogLevel.Information, Message = "session {SessionId} timed out after {Minutes} min idle (session_idle_timeout_minutes)")]
    private static partial void LogTimedOut(ILogger logger, string sessionId, int minutes);
}
