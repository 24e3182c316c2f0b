namespace Oubliette.Schedules;

/// <summary>
/// A schedule with what <c>get</c>, <c>create</c> and <c>update</c> show beside it: its next due times (UTC, at most 5,
/// empty when disabled) and its newest execution (null before the first).
/// </summary>
public sealed record ScheduleDetails(Schedule Schedule, IReadOnlyList<DateTimeOffset> NextRuns, ScheduleExecution? LastExecution);
