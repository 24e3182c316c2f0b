using System.ComponentModel;
using ModelContextProtocol.Server;
using Oubliette.Auth;
using Oubliette.Projects;
using Oubliette.Schedules;

namespace Oubliette.Mcp;

[McpServerToolType]
public sealed class ScheduleTool(ScheduleService schedules, CallerContext callerContext)
{
    [McpServerTool(Name = "schedule", UseStructuredContent = true)]
    [Description("Recurring agent work on a cron schedule. Actions: create {name, cron_expr, prompt, targets: [{project_id, workspace_id?}], enabled?, "
        + "overlap_behavior?, session_behavior?, time_zone?, model?, autonomy?, reasoning?}; list {project_id?, enabled?}; get {schedule_id}; "
        + "update {schedule_id, any create field}; delete {schedule_id}; trigger {schedule_id} (returns at once with execution ids); "
        + "history {schedule_id, limit?, target?}. Each run of a target resumes the session it last used (session_behavior resume) or starts a new one.")]
    public async Task<ScheduleToolResult> RunAsync(
        [Description("create | update | delete | trigger | get | list | history")] string action,
        [Description("update, delete, trigger, get, history: the schedule's id (sch_...)")] string? schedule_id = null,
        [Description("create, update: unique name (1-64 letters, digits, space, '.', '_', '-')")] string? name = null,
        [Description("create, update: 5 fields 'minute hour day-of-month month day-of-week' or 6 with a leading seconds field, e.g. '0 9 * * 1-5'")] string? cron_expr = null,
        [Description("create, update: what the agent does at every run")] string? prompt = null,
        [Description("create, update: where it runs, [{project_id, workspace_id?}] (no workspace_id: the project's default workspace); on update, targets that stay keep their pinned session")] IReadOnlyList<ScheduleTargetInput>? targets = null,
        [Description("create, update: runs only while enabled (default true); list: only enabled or only disabled schedules")] bool? enabled = null,
        [Description("create, update: skip | queue | parallel (default skip): what a run does while the previous run of the same target is still going")] string? overlap_behavior = null,
        [Description("create, update: resume | new (default resume): resume the target's pinned session when it is still usable, or always start a new one")] string? session_behavior = null,
        [Description("create, update: IANA time zone the cron expression is read in, e.g. Europe/Berlin (default UTC; daylight-saving changes handled)")] string? time_zone = null,
        [Description("create, update: a model alias from project options (default: the project's); \"\" on update clears it")] string? model = null,
        [Description("create, update: off | low | medium | high (default: the project's)")] string? autonomy = null,
        [Description("create, update: off | low | medium | high (default: the project's)")] string? reasoning = null,
        [Description("list: only schedules with a target in this project")] string? project_id = null,
        [Description("history: at most this many executions, newest first (default 20, 1..1000)")] int? limit = null,
        [Description("history: only the runs in this target project (its UUID)")] string? target = null,
        CancellationToken cancellationToken = default)
    {
        var verb = ToolArguments.Action("schedule", action, ActionCatalog.ActionsOf("schedule"));
        var caller = callerContext.Caller;
        var input = new ScheduleInput(name, cron_expr, prompt, targets, enabled, overlap_behavior, session_behavior, time_zone, model, autonomy, reasoning);
        switch (verb)
        {
            case "create":
                return Details(await schedules.CreateAsync(input, caller, cancellationToken), withLast: false);
            case "update":
                return Details(await schedules.UpdateAsync(schedule_id, input, caller, cancellationToken), withLast: false);
            case "delete":
                return new ScheduleToolResult(Schedule: ScheduleView.From(await schedules.DeleteAsync(schedule_id, caller, cancellationToken)), Deleted: true);
            case "trigger":
            {
                var executions = await schedules.TriggerAsync(schedule_id, caller, cancellationToken);
                return new ScheduleToolResult(ScheduleId: schedule_id, ExecutionIds: executions);
            }

            case "get":
                return Details(await schedules.GetAsync(schedule_id, caller, cancellationToken), withLast: true);
            case "list":
            {
                Guid? projectId = project_id is null ? null : ProjectIds.Parse("project_id", project_id);
                var listed = await schedules.ListAsync(projectId, enabled, caller, cancellationToken);
                return new ScheduleToolResult(Schedules: [.. listed.Select(ScheduleView.From)]);
            }

            default:
            {
                var executions = await schedules.HistoryAsync(schedule_id, limit, target, caller, cancellationToken);
                return new ScheduleToolResult(ScheduleId: schedule_id, Executions: [.. executions.Select(ScheduleExecutionView.From)]);
            }
        }
    }

    private static ScheduleToolResult Details(ScheduleDetails details, bool withLast) => new(
        Schedule: ScheduleView.From(details.Schedule),
        NextRuns: details.NextRuns,
        LastExecution: withLast && details.LastExecution is { } last ? ScheduleExecutionView.From(last) : null);
}
