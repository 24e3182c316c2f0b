namespace Oubliette.Schedules;

/// <summary>
/// The sessions a scheduled run uses, as the runner sees them (implemented over <c>SessionService</c>; tests use a fake).
/// Errors of spawn and message (limits, budgets, bad settings) are the sessions layer's exceptions, unchanged.
/// </summary>
public interface IScheduledSessions
{
    /// <summary>Whether the session exists, has not ended or failed, and is idle (a turn can be sent to it now).</summary>
    bool IsUsable(string sessionId);

    /// <summary>Spawns a new session (never resumes another) with the spawn's prompt; returns once its turn has started.</summary>
    Task<ScheduledTurn> SpawnAsync(ScheduledSpawn spawn, string actor, CancellationToken cancellationToken);

    /// <summary>Sends <paramref name="prompt"/> as a new turn of the session; returns once the turn has started.</summary>
    Task<ScheduledTurn> MessageAsync(string sessionId, string prompt, CancellationToken cancellationToken);

    /// <summary>Waits until the turn has finished (or its session has ended) and says how it went.</summary>
    Task<ScheduledTurnOutcome> WaitTurnAsync(ScheduledTurn turn, CancellationToken cancellationToken);
}
