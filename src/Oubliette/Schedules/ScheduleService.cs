using System.Security.Cryptography;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Operations;
using Oubliette.Projects;
using Oubliette.Sessions;

namespace Oubliette.Schedules;

/// <summary>
/// The <c>schedule</c> actions (SPEC §8) over <see cref="ScheduleStore"/>: validation, permissions, next-run times,
/// audit, and a wake-up of the runner after every change.
/// <para>
/// Permissions (SPEC §4): a change (create, update, delete, trigger) is a project write on every target project, the old
/// ones and the new ones; a read (get, history) is a project read on every target project, so a project token never
/// sees the prompt or the runs of a schedule that also works in a project it may not read; <c>list</c> shows only those
/// schedules. <c>admin:ro</c> reads all. Agents (calls through the gateway) may not change schedules: a schedule outlives
/// the session that would create it and runs with a token's rights, so only a client's token creates one.
/// </para>
/// <para>
/// A schedule runs with the rights of the token that created it (<c>creator_token_id</c>); an update leaves that alone,
/// except one that enables a disabled schedule: that caller has just shown write rights on every target, and it is how
/// a schedule the runner disabled because its token was revoked comes back, under the enabling token.
/// </para>
/// </summary>
public sealed class ScheduleService(
    ScheduleStore store,
    ProjectService projects,
    IScheduleRunner runner,
    Authorizer authorizer,
    AuditLog audit,
    OublietteConfig config,
    TimeProvider time)
{
    public const int MaxTargets = 100;
    public const int DefaultHistoryLimit = 20;
    public const int MaxHistoryLimit = 1000;
    private const int NextRunsShown = 5;

    public async Task<ScheduleDetails> CreateAsync(ScheduleInput input, Caller caller, CancellationToken cancellationToken)
    {
        RefuseAgent(caller, "create");
        var name = RequireName(input.Name);
        var cron = CronSchedule.Parse(input.CronExpr, input.TimeZone);
        RequireInterval(cron, input.CronExpr!, caller);
        var prompt = RequirePrompt(input.Prompt);
        var overlap = input.OverlapBehavior is null ? OverlapBehavior.Skip : ScheduleWire.ParseOverlap("overlap_behavior", input.OverlapBehavior);
        var session = input.SessionBehavior is null ? SessionBehavior.Resume : ScheduleWire.ParseSession("session_behavior", input.SessionBehavior);
        var (model, autonomy, reasoning) = (Model(input.Model), Level("autonomy", input.Autonomy), Level("reasoning", input.Reasoning));
        var targets = await RequireTargetsAsync(input.Targets, caller, "schedule.create", model, cancellationToken);
        await RequireRoomAsync(targets, [], cancellationToken);
        if (await store.FindByNameAsync(name, cancellationToken) is not null)
        {
            throw new ConflictException($"a schedule named '{name}' already exists; names are unique");
        }

        var now = time.GetUtcNow();
        var enabled = input.Enabled ?? true;
        var schedule = new Schedule(
            "sch_" + RandomNumberGenerator.GetHexString(16, lowercase: true),
            name,
            Normalize(input.CronExpr!),
            Empty(input.TimeZone),
            prompt,
            targets,
            enabled,
            overlap,
            session,
            model,
            autonomy,
            reasoning,
            caller.TokenId,
            now,
            now,
            enabled ? cron.NextAfter(now) : null,
            null);
        await store.InsertAsync(schedule, cancellationToken);
        Audit("schedule.create", caller, schedule, $"name={schedule.Name} targets={Projects(schedule)}");
        runner.Wake();
        return Details(schedule, cron, lastExecution: null);
    }

    /// <summary>Changes the given fields; targets that stay keep their pinned sessions.</summary>
    public async Task<ScheduleDetails> UpdateAsync(string? scheduleId, ScheduleInput input, Caller caller, CancellationToken cancellationToken)
    {
        RefuseAgent(caller, "update");
        var current = await RequireAsync(scheduleId, caller, cancellationToken);
        await DemandEveryAsync(caller, "schedule.update", current, cancellationToken);
        var name = input.Name is null ? null : RequireName(input.Name);
        var cronExpr = input.CronExpr ?? current.CronExpr;
        var zone = input.TimeZone is null ? current.TimeZone : Empty(input.TimeZone);
        var cron = CronSchedule.Parse(cronExpr, zone);
        if (input.CronExpr is not null || input.TimeZone is not null)
        {
            RequireInterval(cron, cronExpr, caller);
        }

        var prompt = input.Prompt is null ? null : RequirePrompt(input.Prompt);
        var overlap = input.OverlapBehavior is null ? (OverlapBehavior?)null : ScheduleWire.ParseOverlap("overlap_behavior", input.OverlapBehavior);
        var session = input.SessionBehavior is null ? (SessionBehavior?)null : ScheduleWire.ParseSession("session_behavior", input.SessionBehavior);
        var model = input.Model is null ? current.Model : Model(Empty(input.Model));
        var autonomy = input.Autonomy is null ? current.Autonomy : Level("autonomy", Empty(input.Autonomy));
        var reasoning = input.Reasoning is null ? current.Reasoning : Level("reasoning", Empty(input.Reasoning));
        var targets = input.Targets is null ? null : await RequireTargetsAsync(input.Targets, caller, "schedule.update", model, cancellationToken);
        if (targets is not null)
        {
            await RequireRoomAsync(targets, current.Targets, cancellationToken);
        }

        if (name is not null && await store.FindByNameAsync(name, cancellationToken) is { } clash && clash.Id != current.Id)
        {
            throw new ConflictException($"a schedule named '{name}' already exists; names are unique");
        }

        var now = time.GetUtcNow();
        var updated = await store.UpdateAsync(current.Id, stored =>
        {
            // The targets were checked against the caller's rights as they were read above; a concurrent change is retried by the caller.
            if (!SameTargets(stored.Targets, current.Targets))
            {
                throw new ConflictException($"schedule '{current.Id}' changed while this update ran; get it and try again");
            }

            var enabled = input.Enabled ?? stored.Enabled;
            var reschedule = enabled != stored.Enabled || Normalize(cronExpr) != stored.CronExpr || zone != stored.TimeZone
                || (enabled && stored.NextRunAt is null);
            var changed = stored with
            {
                Name = name ?? stored.Name,
                CronExpr = Normalize(cronExpr),
                TimeZone = zone,
                Prompt = prompt ?? stored.Prompt,
                Targets = targets ?? stored.Targets,
                Enabled = enabled,
                OverlapBehavior = overlap ?? stored.OverlapBehavior,
                SessionBehavior = session ?? stored.SessionBehavior,
                Model = model,
                Autonomy = autonomy,
                Reasoning = reasoning,
                CreatorTokenId = enabled && !stored.Enabled ? caller.TokenId : stored.CreatorTokenId,
                UpdatedAt = now,
                NextRunAt = enabled ? cron.NextAfter(now) : null,
                DisabledReason = null,
            };
            return (changed, reschedule);
        }, cancellationToken) ?? throw NotFound(current.Id);

        Audit("schedule.update", caller, updated, $"fields={string.Join(',', Changed(input))} targets={Projects(updated)}");
        runner.Wake();
        return Details(updated, cron, await LastExecutionAsync(updated.Id, cancellationToken));
    }

    public async Task<Schedule> DeleteAsync(string? scheduleId, Caller caller, CancellationToken cancellationToken)
    {
        RefuseAgent(caller, "delete");
        var current = await RequireAsync(scheduleId, caller, cancellationToken);
        await DemandEveryAsync(caller, "schedule.delete", current, cancellationToken);
        var deleted = await store.DeleteAsync(current.Id, cancellationToken) ?? throw NotFound(current.Id);
        Audit("schedule.delete", caller, deleted, $"name={deleted.Name} targets={Projects(deleted)}");
        runner.Wake();
        return deleted;
    }

    /// <summary>Starts a manual run of every target now; returns at once with one execution id per target, in target order.</summary>
    public async Task<IReadOnlyList<string>> TriggerAsync(string? scheduleId, Caller caller, CancellationToken cancellationToken)
    {
        RefuseAgent(caller, "trigger");
        var current = await RequireAsync(scheduleId, caller, cancellationToken);
        await DemandEveryAsync(caller, "schedule.trigger", current, cancellationToken);
        var executions = await runner.TriggerAsync(current.Id, cancellationToken);
        Audit("schedule.trigger", caller, current, $"executions={string.Join(',', executions)}");
        return executions;
    }

    public async Task<ScheduleDetails> GetAsync(string? scheduleId, Caller caller, CancellationToken cancellationToken)
    {
        var schedule = await RequireAsync(scheduleId, caller, cancellationToken);
        await DemandEveryAsync(caller, "schedule.get", schedule, cancellationToken);
        return Details(schedule, CronSchedule.Parse(schedule.CronExpr, schedule.TimeZone), await LastExecutionAsync(schedule.Id, cancellationToken));
    }

    /// <summary>The schedules the caller may read, by name; filtered by a target project and by enabled.</summary>
    public async Task<IReadOnlyList<Schedule>> ListAsync(Guid? projectId, bool? enabled, Caller caller, CancellationToken cancellationToken)
    {
        if (projectId is { } project)
        {
            authorizer.Demand(caller, "schedule.list", project);
        }

        var schedules = await store.ListAsync(projectId, enabled, cancellationToken);
        return [.. schedules.Where(schedule => schedule.Targets.All(target => PermissionPolicy.Allows(caller.Scope, PermissionClass.ProjectRead, target.ProjectId)))];
    }

    /// <summary>
    /// Executions newest first, at most <paramref name="limit"/> (default 20, 1..1000). With <paramref name="target"/> (a
    /// project id) only that project's runs, and reading that project is enough; without it every target must be readable.
    /// </summary>
    public async Task<IReadOnlyList<ScheduleExecution>> HistoryAsync(string? scheduleId, int? limit, string? target, Caller caller, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > MaxHistoryLimit)
        {
            throw new InvalidArgumentException($"limit {limit} is out of range (1..{MaxHistoryLimit})");
        }

        Guid? project = target is null ? null : ProjectIds.Parse("target", target);
        var schedule = await RequireAsync(scheduleId, caller, cancellationToken);
        if (project is { } only)
        {
            authorizer.Demand(caller, "schedule.history", only);
            if (schedule.Targets.All(candidate => candidate.ProjectId != only))
            {
                throw NotFound(schedule.Id);
            }
        }
        else
        {
            await DemandEveryAsync(caller, "schedule.history", schedule, cancellationToken);
        }

        return await store.HistoryAsync(schedule.Id, limit ?? DefaultHistoryLimit, project, cancellationToken);
    }

    private static void RefuseAgent(Caller caller, string action)
    {
        if (caller.IsAgent)
        {
            throw new ForbiddenException($"schedule {action}: agents may not create, change or trigger schedules; the client that started the session can");
        }
    }

    /// <summary>The schedule, as not found when the caller may read none of its targets (its id and targets stay secret).</summary>
    private async Task<Schedule> RequireAsync(string? scheduleId, Caller caller, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(scheduleId))
        {
            throw new InvalidArgumentException("'schedule_id' is required");
        }

        var schedule = (scheduleId.Length <= 64 ? await store.GetAsync(scheduleId, cancellationToken) : null) ?? throw NotFound(scheduleId);
        return schedule.Targets.Any(target => PermissionPolicy.Allows(caller.Scope, PermissionClass.ProjectRead, target.ProjectId))
            ? schedule
            : throw NotFound(scheduleId);
    }

    private static NotFoundException NotFound(string scheduleId) =>
        new($"schedule_id '{(scheduleId.Length > 60 ? scheduleId[..60] + "…" : scheduleId)}' not found");

    /// <summary>
    /// The caller's rights on every target project that still exists. A deleted project belongs to nobody: its targets
    /// do not stop the owners of the other targets from mending or deleting the schedule.
    /// </summary>
    private async Task DemandEveryAsync(Caller caller, string action, Schedule schedule, CancellationToken cancellationToken)
    {
        foreach (var project in schedule.Targets.Select(target => target.ProjectId).Distinct())
        {
            if (await ExistsAsync(project, cancellationToken))
            {
                authorizer.Demand(caller, action, project);
            }
        }
    }

    private async Task<bool> ExistsAsync(Guid project, CancellationToken cancellationToken)
    {
        try
        {
            await projects.RequireAsync(project, cancellationToken);
            return true;
        }
        catch (NotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// Non-admin tokens may not schedule runs closer than <c>schedules.min_interval_seconds</c>: a project token could
    /// otherwise start a session every second for as long as the token lives. Checked over the next runs.
    /// </summary>
    private void RequireInterval(CronSchedule cron, string cronExpr, Caller caller)
    {
        var minimum = config.Schedules.MinIntervalSeconds;
        if (caller.Scope.Kind == ScopeKind.Admin || minimum == 0 || cron.NextAfter(time.GetUtcNow()) is not { } first)
        {
            return;
        }

        var runs = cron.Following(first, 32);
        for (var index = 1; index < runs.Count; index++)
        {
            var gap = runs[index] - runs[index - 1];
            if (gap.TotalSeconds < minimum)
            {
                throw new InvalidArgumentException(
                    $"cron_expr '{Normalize(cronExpr)}' runs {gap.TotalSeconds:0} s apart; a non-admin token may schedule runs at least {minimum} s apart (schedules.min_interval_seconds)");
            }
        }
    }

    /// <summary>Each newly targeted project has room for one more schedule (<c>schedules.max_per_project</c>).</summary>
    private async Task RequireRoomAsync(IReadOnlyList<ScheduleTarget> targets, IReadOnlyList<ScheduleTarget> before, CancellationToken cancellationToken)
    {
        foreach (var project in targets.Select(target => target.ProjectId).Distinct().Where(project => before.All(old => old.ProjectId != project)))
        {
            var count = await store.CountForProjectAsync(project, cancellationToken);
            if (count >= config.Schedules.MaxPerProject)
            {
                throw new InvalidArgumentException(
                    $"project '{project:D}' already has {count} schedules, the most allowed (schedules.max_per_project = {config.Schedules.MaxPerProject}); delete one first");
            }
        }
    }

    /// <summary>The expression as stored and shown: its fields joined by single spaces.</summary>
    private static string Normalize(string cronExpr) => string.Join(' ', cronExpr.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    private static string RequireName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new InvalidArgumentException("'name' is required (1-64 characters: letters, digits, space, '.', '_', '-'; starting with a letter or digit)");
        }

        var trimmed = name.Trim();
        return ProjectService.IsValidName(trimmed)
            ? trimmed
            : throw new InvalidArgumentException($"name '{name}' is not valid (1-64 characters: letters, digits, space, '.', '_', '-'; starting with a letter or digit)");
    }

    private string RequirePrompt(string? prompt)
    {
        if (string.IsNullOrWhiteSpace(prompt))
        {
            throw new InvalidArgumentException("'prompt' is required and must not be empty (what the agent does at every run)");
        }

        SessionService.RequirePromptSize("prompt", prompt, Math.Min(config.Server.MaxPromptBytes, config.Schedules.MaxPromptBytes));
        return prompt;
    }

    /// <summary>As session spawn checks it: a configured alias, or null for the project's model.</summary>
    private string? Model(string? model) =>
        model is null || config.Models.Models.ContainsKey(model)
            ? model
            : throw new InvalidArgumentException($"model '{model}' is not configured (configured: {(config.Models.Models.Count == 0 ? "none" : string.Join(", ", config.Models.Models.Keys))})");

    private static string? Level(string field, string? value) => value is null ? null : ConfigParser.RequireLevel(field, value);

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    /// <summary>Each target: a project the caller may write, that exists, with an existing workspace; no target twice.</summary>
    private async Task<IReadOnlyList<ScheduleTarget>> RequireTargetsAsync(
        IReadOnlyList<ScheduleTargetInput>? inputs, Caller caller, string action, string? model, CancellationToken cancellationToken)
    {
        if (inputs is null || inputs.Count == 0)
        {
            throw new InvalidArgumentException("'targets' must name at least one target: [{project_id, workspace_id?}]");
        }

        if (inputs.Count > MaxTargets)
        {
            throw new InvalidArgumentException($"'targets' has {inputs.Count} entries, more than the {MaxTargets} allowed");
        }

        var targets = new List<ScheduleTarget>(inputs.Count);
        var seen = new Dictionary<(Guid, Guid), int>();
        for (var index = 0; index < inputs.Count; index++)
        {
            var field = $"targets[{index}]";
            var input = inputs[index] ?? throw new InvalidArgumentException($"'{field}' must be an object {{project_id, workspace_id?}}");
            var projectId = ProjectIds.Parse($"{field}.project_id", input.ProjectId);
            Guid? workspaceId = input.WorkspaceId is null ? null : ProjectIds.Parse($"{field}.workspace_id", input.WorkspaceId);
            authorizer.Demand(caller, action, projectId);
            ProjectMetadata project;
            try
            {
                project = await projects.RequireAsync(projectId, cancellationToken);
            }
            catch (NotFoundException)
            {
                throw new NotFoundException($"{field}.project_id '{projectId:D}' not found");
            }

            if (workspaceId is { } workspace && project.Workspaces.All(candidate => candidate.Id != workspace))
            {
                throw new NotFoundException($"{field}.workspace_id '{workspace:D}' not found in project '{projectId:D}'");
            }

            // No workspace means the default one: naming it as well would run the same folder twice per due time.
            if (seen.TryGetValue((projectId, workspaceId ?? project.DefaultWorkspaceId), out var earlier))
            {
                throw new InvalidArgumentException($"{field} repeats targets[{earlier}] (project {projectId:D}, {(workspaceId is null ? "default workspace" : $"workspace {workspaceId:D}")}); each target must be different");
            }

            // A run needs a model: the schedule's, the project's or the defaults' (as session spawn resolves it).
            if ((model ?? project.Model ?? config.Defaults.Agent.Model ?? config.Models.SessionModel) is null)
            {
                throw new InvalidArgumentException(
                    $"{field}: no model is configured for project '{projectId:D}' (give 'model', or set models.models and defaults.agent.model in the config)");
            }

            seen[(projectId, workspaceId ?? project.DefaultWorkspaceId)] = index;
            // The default workspace named is the same target as none named: stored as none, so its pin is kept either way.
            targets.Add(new ScheduleTarget(projectId, workspaceId == project.DefaultWorkspaceId ? null : workspaceId));
        }

        return targets;
    }

    private static bool SameTargets(IReadOnlyList<ScheduleTarget> left, IReadOnlyList<ScheduleTarget> right) =>
        left.Select(target => (target.ProjectId, target.WorkspaceId)).SequenceEqual(right.Select(target => (target.ProjectId, target.WorkspaceId)));

    private async Task<ScheduleExecution?> LastExecutionAsync(string scheduleId, CancellationToken cancellationToken) =>
        (await store.HistoryAsync(scheduleId, 1, null, cancellationToken)).FirstOrDefault();

    private static ScheduleDetails Details(Schedule schedule, CronSchedule cron, ScheduleExecution? lastExecution) => new(
        schedule,
        schedule is { Enabled: true, NextRunAt: { } next } ? cron.Following(next, NextRunsShown) : [],
        lastExecution);

    private void Audit(string action, Caller caller, Schedule schedule, string detail) =>
        audit.Write(new AuditEntry(action, "ok", caller.TokenId, caller.Scope.ToString(), schedule.Id, detail));

    private static string Projects(Schedule schedule) => string.Join(',', schedule.Targets.Select(target => target.ProjectId.ToString("D")).Distinct());

    private static IEnumerable<string> Changed(ScheduleInput input)
    {
        var fields = new (string Name, object? Value)[]
        {
            ("name", input.Name), ("cron_expr", input.CronExpr), ("prompt", input.Prompt), ("targets", input.Targets), ("enabled", input.Enabled),
            ("overlap_behavior", input.OverlapBehavior), ("session_behavior", input.SessionBehavior), ("time_zone", input.TimeZone),
            ("model", input.Model), ("autonomy", input.Autonomy), ("reasoning", input.Reasoning),
        };
        return fields.Where(field => field.Value is not null).Select(field => field.Name);
    }
}
