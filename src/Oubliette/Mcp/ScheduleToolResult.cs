namespace Oubliette.Mcp;

/// <summary>
/// Result of the <c>schedule</c> tool; each action fills its own fields: create, update and get <c>schedule</c> +
/// <c>next_runs</c> (UTC, at most 5, empty while disabled), get also <c>last_execution</c> (once there is one); list
/// <c>schedules</c>; delete <c>schedule</c> + <c>deleted</c>; trigger <c>schedule_id</c> + <c>execution_ids</c> (one per
/// target, in target order); history <c>schedule_id</c> + <c>executions</c> (newest first).
/// </summary>
public sealed record ScheduleToolResult(
    ScheduleView? Schedule = null,
    IReadOnlyList<DateTimeOffset>? NextRuns = null,
    ScheduleExecutionView? LastExecution = null,
    IReadOnlyList<ScheduleView>? Schedules = null,
    bool? Deleted = null,
    string? ScheduleId = null,
    IReadOnlyList<string>? ExecutionIds = null,
    IReadOnlyList<ScheduleExecutionView>? Executions = null);
