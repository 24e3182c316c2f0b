using Oubliette.Schedules;

namespace Oubliette.Mcp;

/// <summary>
/// One run of one target. <c>trigger</c>: <c>cron</c> or <c>manual</c>; <c>due_at</c>: the cron due time (the trigger
/// time for a manual run); <c>status</c>: <c>running</c>, <c>success</c>, <c>failed</c>, <c>skipped</c> (<c>reason</c>
/// <c>overlap</c> or <c>missed</c>), <c>interrupted</c> or <c>disabled</c>; <c>duration_seconds</c> once finished.
/// </summary>
public sealed record ScheduleExecutionView(
    string Id,
    string ScheduleId,
    Guid ProjectId,
    Guid? WorkspaceId,
    string Trigger,
    DateTimeOffset DueAt,
    string Status,
    string? Reason,
    string? SessionId,
    string? OutputExcerpt,
    string? Error,
    long TokensIn,
    long TokensOut,
    double CostUsd,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    double? DurationSeconds)
{
    public static ScheduleExecutionView From(ScheduleExecution execution) => new(
        execution.Id,
        execution.ScheduleId,
        execution.ProjectId,
        execution.WorkspaceId,
        execution.Trigger,
        execution.DueAt,
        ScheduleWire.Name(execution.Status),
        execution.Reason,
        execution.SessionId,
        execution.OutputExcerpt,
        execution.Error,
        execution.TokensIn,
        execution.TokensOut,
        execution.CostUsd,
        execution.StartedAt,
        execution.FinishedAt,
        execution is { StartedAt: { } started, FinishedAt: { } finished } ? Math.Round((finished - started).TotalSeconds, 3) : null);
}
