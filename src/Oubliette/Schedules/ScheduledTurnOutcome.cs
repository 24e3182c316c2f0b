namespace Oubliette.Schedules;

/// <summary>How a turn ended: its final assistant text (bounded), the error when it failed, and this turn's usage.</summary>
public sealed record ScheduledTurnOutcome(bool Succeeded, string? OutputExcerpt, string? Error, long TokensIn, long TokensOut, double CostUsd);
