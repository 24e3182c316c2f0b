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

/// <summary>What a scheduled spawn asks for: the schedule's prompt in one target, with its optional settings.</summary>
public sealed record ScheduledSpawn(Guid ProjectId, Guid? WorkspaceId, string Prompt, string? Model, string? Autonomy, string? Reasoning);

/// <summary>
/// A started turn: its session, its position in the session's turns, and the session's usage totals before it
/// (tokens, US dollars), so that the run's own usage is the difference.
/// </summary>
public sealed record ScheduledTurn(string SessionId, int TurnIndex, long TokensInBefore, long TokensOutBefore, double CostUsdBefore);

/// <summary>How a turn ended: its final assistant text (bounded), the error when it failed, and this turn's usage.</summary>
public sealed record ScheduledTurnOutcome(bool Succeeded, string? OutputExcerpt, string? Error, long TokensIn, long TokensOut, double CostUsd);
