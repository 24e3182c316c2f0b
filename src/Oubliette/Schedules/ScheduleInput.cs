namespace Oubliette.Schedules;

/// <summary>
/// The fields of a <c>schedule create</c> or <c>update</c>, as the caller sent them (unchecked). On update a null field
/// stays as it is; an empty <see cref="TimeZone"/>, <see cref="Model"/>, <see cref="Autonomy"/> or
/// <see cref="Reasoning"/> clears it (UTC; the project's setting).
/// </summary>
public sealed record ScheduleInput(
    string? Name = null,
    string? CronExpr = null,
    string? Prompt = null,
    IReadOnlyList<ScheduleTargetInput>? Targets = null,
    bool? Enabled = null,
    string? OverlapBehavior = null,
    string? SessionBehavior = null,
    string? TimeZone = null,
    string? Model = null,
    string? Autonomy = null,
    string? Reasoning = null);

/// <summary>One target as sent: a project id and optionally a workspace of it (default: the project's default workspace).</summary>
public sealed record ScheduleTargetInput(string? ProjectId, string? WorkspaceId = null);
