using Oubliette.Schedules;

namespace Oubliette.Mcp;

/// <summary>
/// A schedule as the <c>schedule</c> tool shows it. <c>time_zone</c> is the IANA id the cron expression is read in
/// (<c>UTC</c> when none was given); <c>next_run_at</c> (UTC) is left out while the schedule is disabled;
/// <c>disabled_reason</c> says why the runner disabled it (its token was revoked or expired), left out otherwise.
/// </summary>
public sealed record ScheduleView(
    string Id,
    string Name,
    string CronExpr,
    string TimeZone,
    string Prompt,
    IReadOnlyList<ScheduleTargetView> Targets,
    bool Enabled,
    string OverlapBehavior,
    string SessionBehavior,
    string? Model,
    string? Autonomy,
    string? Reasoning,
    string CreatorTokenId,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? NextRunAt,
    string? DisabledReason)
{
    public static ScheduleView From(Schedule schedule) => new(
        schedule.Id,
        schedule.Name,
        schedule.CronExpr,
        schedule.TimeZone ?? "UTC",
        schedule.Prompt,
        [.. schedule.Targets.Select(target => new ScheduleTargetView(target.ProjectId, target.WorkspaceId, target.PinnedSessionId))],
        schedule.Enabled,
        ScheduleWire.Name(schedule.OverlapBehavior),
        ScheduleWire.Name(schedule.SessionBehavior),
        schedule.Model,
        schedule.Autonomy,
        schedule.Reasoning,
        schedule.CreatorTokenId,
        schedule.CreatedAt,
        schedule.UpdatedAt,
        schedule.NextRunAt,
        schedule.DisabledReason);
}
