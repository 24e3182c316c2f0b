using Oubliette.Errors;
using Oubliette.Sessions;

namespace Oubliette.Schedules;

/// <summary><see cref="IScheduledSessions"/> over <see cref="SessionService"/>: the same spawn, limits and budgets as any client's.</summary>
public sealed class SessionServiceScheduledSessions(SessionService sessions) : IScheduledSessions
{
    /// <summary>Longest output excerpt an execution keeps, in characters (the session's turn record keeps about as much).</summary>
    public const int MaxExcerptChars = 2000;

    // The longest wait SessionService allows in one call; a turn that lasts longer is simply waited for again.
    private const int WaitSeconds = 3600;

    public bool IsUsable(string sessionId)
    {
        try
        {
            var metadata = sessions.Get(sessionId);
            return !metadata.Ended && metadata.Status == SessionStatus.Idle;
        }
        catch (NotFoundException)
        {
            return false;
        }
    }

    public async Task<ScheduledTurn> SpawnAsync(ScheduledSpawn spawn, string actor, CancellationToken cancellationToken)
    {
        // NewSession: a scheduled run never takes over whichever idle session happens to be in the workspace.
        var request = new SpawnRequest(spawn.ProjectId, spawn.Prompt, spawn.WorkspaceId, CreateWorkspace: false, NewSession: true, spawn.Model, spawn.Autonomy,
            spawn.Reasoning);
        var result = await sessions.SpawnAsync(request, actor, subscriber: null, cancellationToken);
        return new ScheduledTurn(result.SessionId, TurnIndex: 0, 0, 0, 0);
    }

    public async Task<ScheduledTurn> MessageAsync(string sessionId, string prompt, CancellationToken cancellationToken)
    {
        var before = sessions.Get(sessionId);
        await sessions.MessageAsync(sessionId, prompt, subscriber: null, cancellationToken);
        // The message appended exactly one turn (it throws otherwise): the one after those there were before.
        return new ScheduledTurn(sessionId, before.Turns.Count, before.TokensIn, before.TokensOut, before.CostUsd);
    }

    public async Task<ScheduledTurnOutcome> WaitTurnAsync(ScheduledTurn turn, CancellationToken cancellationToken)
    {
        while (true)
        {
            SessionMetadata metadata;
            try
            {
                metadata = sessions.Get(turn.SessionId);
            }
            catch (NotFoundException)
            {
                return new ScheduledTurnOutcome(false, null, $"session {turn.SessionId} is gone (cleaned up) before its turn finished", 0, 0, 0);
            }

            var record = metadata.Turns.Count > turn.TurnIndex ? metadata.Turns[turn.TurnIndex] : null;
            var (tokensIn, tokensOut, cost) = (metadata.TokensIn - turn.TokensInBefore, metadata.TokensOut - turn.TokensOutBefore, metadata.CostUsd - turn.CostUsdBefore);
            if (record?.FinishedAt is not null)
            {
                return new ScheduledTurnOutcome(record.Error is null, Bounded(record.OutputExcerpt), record.Error, tokensIn, tokensOut, cost);
            }

            if (metadata.Ended || metadata.Status != SessionStatus.Running || record is null)
            {
                return new ScheduledTurnOutcome(false, null,
                    metadata.Error ?? $"session {turn.SessionId} stopped ({metadata.Status}) before the turn finished", tokensIn, tokensOut, cost);
            }

            // Returns at idle or a final status (or after WaitSeconds); the turn record then says whether it was this turn.
            await sessions.WaitAsync(turn.SessionId, "idle", WaitSeconds, cancellationToken);
        }
    }

    // Never cut between the two halves of a surrogate pair.
    private static string? Bounded(string? text) => text is { Length: > MaxExcerptChars }
        ? text[..(char.IsHighSurrogate(text[MaxExcerptChars - 1]) ? MaxExcerptChars - 1 : MaxExcerptChars)]
        : text;
}
