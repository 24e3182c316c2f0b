namespace Oubliette.Schedules;

/// <summary>
/// A started turn: its session, its position in the session's turns, and the session's usage totals before it
/// (tokens, US dollars), so that the run's own usage is the difference.
/// </summary>
public sealed record ScheduledTurn(string SessionId, int TurnIndex, long TokensInBefore, long TokensOutBefore, double CostUsdBefore);
