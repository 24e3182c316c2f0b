namespace Oubliette.Schedules;

/// <summary>What a due run does while the previous run of the same target is still running (SPEC §8).</summary>
public enum OverlapBehavior
{
    /// <summary>Record a <c>skipped</c> execution (reason <c>overlap</c>) and do nothing.</summary>
    Skip,

    /// <summary>Run after the running one finishes (at most one waiting per target).</summary>
    Queue,

    /// <summary>Run beside it.</summary>
    Parallel,
}

/// <summary>Which session a run uses: the target's pinned one when still usable, or always a new one.</summary>
public enum SessionBehavior
{
    Resume,
    New,
}

/// <summary>An execution's state; the wire names are the lower-case member names.</summary>
public enum ExecutionStatus
{
    Running,
    Success,
    Failed,

    /// <summary>Not run; <see cref="ScheduleExecution.Reason"/> says why: <c>overlap</c> or <c>missed</c>.</summary>
    Skipped,

    /// <summary>Was running when the server stopped.</summary>
    Interrupted,

    /// <summary>Not run because the schedule's creator token was revoked, expired or lost its rights; the schedule is disabled.</summary>
    Disabled,
}

/// <summary>One project (and optionally one workspace) a schedule runs in, and the session it last used there.</summary>
public sealed record ScheduleTarget(Guid ProjectId, Guid? WorkspaceId, string? PinnedSessionId = null);

/// <summary>
/// A stored schedule. <see cref="CronExpr"/> has 5 fields (minute precision) or 6 (leading seconds field), read in
/// <see cref="TimeZone"/> (IANA id, UTC when null). <see cref="NextRunAt"/> is the next due time in UTC, null when
/// disabled. <see cref="CreatorTokenId"/> is the public id of the token that created it: runs use its rights.
/// </summary>
public sealed record Schedule(
    string Id,
    string Name,
    string CronExpr,
    string? TimeZone,
    string Prompt,
    IReadOnlyList<ScheduleTarget> Targets,
    bool Enabled,
    OverlapBehavior OverlapBehavior,
    SessionBehavior SessionBehavior,
    string? Model,
    string? Autonomy,
    string? Reasoning,
    string CreatorTokenId,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? NextRunAt,
    string? DisabledReason);

/// <summary>
/// One run of one target. <see cref="DueAt"/> is the cron due time (or the trigger time for <c>manual</c>);
/// <see cref="Trigger"/> is <c>cron</c> or <c>manual</c>. Tokens and cost are the session's usage during this run.
/// </summary>
public sealed record ScheduleExecution(
    string Id,
    string ScheduleId,
    Guid ProjectId,
    Guid? WorkspaceId,
    string Trigger,
    DateTimeOffset DueAt,
    ExecutionStatus Status,
    string? Reason,
    string? SessionId,
    string? OutputExcerpt,
    string? Error,
    long TokensIn,
    long TokensOut,
    double CostUsd,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt);

/// <summary>
/// The runner's view of <c>data/schedules.db</c>. Every method is one transaction. Implemented by
/// <c>ScheduleStore</c> (SQLite); tests use an in-memory fake.
/// </summary>
public interface IScheduleRunStore
{
    /// <summary>Enabled schedules with a next due time, earliest first.</summary>
    Task<IReadOnlyList<Schedule>> DueOrderAsync(CancellationToken cancellationToken);

    Task<Schedule?> GetAsync(string scheduleId, CancellationToken cancellationToken);

    /// <summary>
    /// Claims the run due at <paramref name="expectedDue"/>: sets <c>next_run_at</c> to <paramref name="nextDue"/> only
    /// if it still equals <paramref name="expectedDue"/>. False when another claim (or an update) got there first, so
    /// one due time never runs twice, also across a restart.
    /// </summary>
    Task<bool> ClaimAsync(string scheduleId, DateTimeOffset expectedDue, DateTimeOffset? nextDue, CancellationToken cancellationToken);

    /// <summary>Inserts an execution (any status); <see cref="ScheduleExecution.Id"/> is chosen by the caller.</summary>
    Task AddExecutionAsync(ScheduleExecution execution, CancellationToken cancellationToken);

    /// <summary>Replaces a stored execution's mutable fields (status, reason, session, excerpt, error, usage, times).</summary>
    Task UpdateExecutionAsync(ScheduleExecution execution, CancellationToken cancellationToken);

    /// <summary>Executions still <c>running</c> (after a restart these become <c>interrupted</c>).</summary>
    Task<IReadOnlyList<ScheduleExecution>> RunningExecutionsAsync(CancellationToken cancellationToken);

    /// <summary>Pins <paramref name="sessionId"/> on the target (project, workspace) of the schedule, if that target still exists.</summary>
    Task PinAsync(string scheduleId, Guid projectId, Guid? workspaceId, string sessionId, CancellationToken cancellationToken);

    /// <summary>Disables the schedule (enabled = 0, next_run_at = null) and keeps the reason.</summary>
    Task DisableAsync(string scheduleId, string reason, CancellationToken cancellationToken);

    /// <summary>Deletes all but the newest <paramref name="keep"/> executions of the schedule.</summary>
    Task PruneExecutionsAsync(string scheduleId, int keep, CancellationToken cancellationToken);
}

/// <summary>What the <c>schedule</c> tool needs from the runner.</summary>
public interface IScheduleRunner
{
    /// <summary>Schedules changed (created, updated, deleted, enabled): recompute the earliest due time now.</summary>
    void Wake();

    /// <summary>
    /// Starts one manual run of every target now (overlap rules apply) and returns at once with the new execution ids,
    /// one per target, in target order.
    /// </summary>
    Task<IReadOnlyList<string>> TriggerAsync(string scheduleId, CancellationToken cancellationToken);
}
