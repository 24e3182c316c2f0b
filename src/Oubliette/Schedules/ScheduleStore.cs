using System.Globalization;
using Microsoft.Data.Sqlite;
using Oubliette.Errors;
using Oubliette.Storage;

namespace Oubliette.Schedules;

/// <summary>
/// Schedules, their targets (with the pinned session of each) and their executions in <c>data/schedules.db</c>: SQLite
/// in WAL mode with a busy timeout, foreign keys enforced on every connection, the file created 0600. Times are stored as
/// fixed-width UTC ISO-8601 text (as in <c>auth.db</c>), so text order is time order. Every method is one transaction, and
/// every write ends with a WAL checkpoint (the main file alone holds every acknowledged change, for a plain <c>cp</c>).
/// </summary>
public sealed class ScheduleStore(SqliteDatabase database, TimeProvider time) : IScheduleRunStore
{
    /// <summary>
    /// The schema, one step per version (<c>PRAGMA user_version</c>): step i turns version i into i + 1. Append steps,
    /// never edit one that has shipped; a step that reshapes a table copies its rows (see <see cref="SqliteDatabase.MigrateAsync"/>).
    /// </summary>
    internal static readonly IReadOnlyList<string> Migrations =
    [
        // 1: schedules, targets with their pins, executions.
        """
        CREATE TABLE schedules (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL COLLATE NOCASE UNIQUE,
            cron_expr TEXT NOT NULL,
            time_zone TEXT NULL,
            prompt TEXT NOT NULL,
            enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
            overlap_behavior TEXT NOT NULL CHECK (overlap_behavior IN ('skip', 'queue', 'parallel')),
            session_behavior TEXT NOT NULL CHECK (session_behavior IN ('resume', 'new')),
            model TEXT NULL,
            autonomy TEXT NULL,
            reasoning TEXT NULL,
            creator_token_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            next_run_at TEXT NULL,
            disabled_reason TEXT NULL
        );
        CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled = 1 AND next_run_at IS NOT NULL;
        CREATE TABLE schedule_targets (
            schedule_id TEXT NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            project_id TEXT NOT NULL,
            workspace_id TEXT NULL,
            pinned_session_id TEXT NULL,
            PRIMARY KEY (schedule_id, position)
        );
        CREATE UNIQUE INDEX schedule_targets_unique ON schedule_targets (schedule_id, project_id, ifnull(workspace_id, ''));
        CREATE INDEX schedule_targets_project ON schedule_targets (project_id);
        CREATE TABLE schedule_executions (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            schedule_id TEXT NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
            project_id TEXT NOT NULL,
            workspace_id TEXT NULL,
            trigger_kind TEXT NOT NULL,
            due_at TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT NULL,
            session_id TEXT NULL,
            output_excerpt TEXT NULL,
            error TEXT NULL,
            tokens_in INTEGER NOT NULL DEFAULT 0,
            tokens_out INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            started_at TEXT NULL,
            finished_at TEXT NULL
        );
        CREATE INDEX schedule_executions_history ON schedule_executions (schedule_id, due_at DESC, seq DESC);
        CREATE INDEX schedule_executions_running ON schedule_executions (status) WHERE status = 'running';
        """,
    ];

    private const string ScheduleColumns =
        "s.id, s.name, s.cron_expr, s.time_zone, s.prompt, s.enabled, s.overlap_behavior, s.session_behavior, s.model, s.autonomy, s.reasoning, "
        + "s.creator_token_id, s.created_at, s.updated_at, s.next_run_at, s.disabled_reason, t.project_id, t.workspace_id, t.pinned_session_id";

    private const string ExecutionColumns =
        "id, schedule_id, project_id, workspace_id, trigger_kind, due_at, status, reason, session_id, output_excerpt, error, tokens_in, tokens_out, cost_usd, started_at, finished_at";

    /// <summary>Newest first: by due time, then by insertion.</summary>
    private const string NewestFirst = "ORDER BY due_at DESC, seq DESC";

    public SqliteDatabase Database => database;

    /// <summary>Creates the file (0600) when missing and brings its schema up to date.</summary>
    public Task InitializeAsync(CancellationToken cancellationToken) => database.MigrateAsync(Migrations, cancellationToken);

    /// <summary>Inserts a new schedule with its targets (pins included).</summary>
    /// <exception cref="ConflictException">A schedule with the same name (case-insensitive) exists.</exception>
    public async Task InsertAsync(Schedule schedule, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = Command(connection, transaction, """
            INSERT INTO schedules (id, name, cron_expr, time_zone, prompt, enabled, overlap_behavior, session_behavior, model, autonomy, reasoning,
                creator_token_id, created_at, updated_at, next_run_at, disabled_reason)
            VALUES ($id, $name, $cron, $zone, $prompt, $enabled, $overlap, $session, $model, $autonomy, $reasoning,
                $creator, $created, $updated, $next, $reason);
            """))
        {
            BindSchedule(command, schedule);
            command.Parameters.AddWithValue("$created", Format(schedule.CreatedAt));
            command.Parameters.AddWithValue("$next", Nullable(FormatOrNull(schedule.NextRunAt)));
            command.Parameters.AddWithValue("$reason", Nullable(schedule.DisabledReason));
            await ExecuteUniqueAsync(command, schedule.Name, cancellationToken);
        }

        await InsertTargetsAsync(connection, transaction, schedule.Id, schedule.Targets, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await SqliteDatabase.CheckpointAsync(connection, cancellationToken);
    }

    /// <summary>
    /// Changes a schedule in one write transaction: <paramref name="change"/> gets the schedule as stored now and returns
    /// the new version and whether its timing changed. Without a timing change, <c>next_run_at</c> and
    /// <c>disabled_reason</c> are left as stored (the runner may have claimed a run or disabled the schedule meanwhile).
    /// Targets are replaced by the new list; a target that stays (same project and workspace) keeps the session pinned
    /// on it in the database, whatever the new list says. Returns null when the schedule does not exist.
    /// </summary>
    public async Task<Schedule?> UpdateAsync(string scheduleId, Func<Schedule, (Schedule Updated, bool Reschedule)> change, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var current = (await ReadSchedulesAsync(connection, transaction, "WHERE s.id = $id", [("$id", scheduleId)], cancellationToken)).SingleOrDefault();
        if (current is null)
        {
            return null;
        }

        var (updated, reschedule) = change(current);
        await using (var command = Command(connection, transaction, $"""
            UPDATE schedules SET name = $name, cron_expr = $cron, time_zone = $zone, prompt = $prompt, enabled = $enabled,
                overlap_behavior = $overlap, session_behavior = $session, model = $model, autonomy = $autonomy, reasoning = $reasoning,
                creator_token_id = $creator, updated_at = $updated{(reschedule ? ", next_run_at = $next, disabled_reason = $reason" : "")}
            WHERE id = $id;
            """))
        {
            BindSchedule(command, updated with { Id = scheduleId });
            if (reschedule)
            {
                command.Parameters.AddWithValue("$next", Nullable(FormatOrNull(updated.NextRunAt)));
                command.Parameters.AddWithValue("$reason", Nullable(updated.DisabledReason));
            }

            await ExecuteUniqueAsync(command, updated.Name, cancellationToken);
        }

        var pins = new Dictionary<(Guid, Guid?), string?>();
        foreach (var target in current.Targets)
        {
            pins[(target.ProjectId, target.WorkspaceId)] = target.PinnedSessionId;
        }

        await using (var delete = Command(connection, transaction, "DELETE FROM schedule_targets WHERE schedule_id = $id;"))
        {
            delete.Parameters.AddWithValue("$id", scheduleId);
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }

        var targets = updated.Targets
            .Select(target => target with { PinnedSessionId = pins.GetValueOrDefault((target.ProjectId, target.WorkspaceId)) })
            .ToList();
        await InsertTargetsAsync(connection, transaction, scheduleId, targets, cancellationToken);
        var stored = (await ReadSchedulesAsync(connection, transaction, "WHERE s.id = $id", [("$id", scheduleId)], cancellationToken)).Single();
        await transaction.CommitAsync(cancellationToken);
        await SqliteDatabase.CheckpointAsync(connection, cancellationToken);
        return stored;
    }

    /// <summary>Deletes the schedule, its targets and its executions; returns it as it was, or null when unknown.</summary>
    public async Task<Schedule?> DeleteAsync(string scheduleId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var current = (await ReadSchedulesAsync(connection, transaction, "WHERE s.id = $id", [("$id", scheduleId)], cancellationToken)).SingleOrDefault();
        if (current is not null)
        {
            await using var command = Command(connection, transaction, "DELETE FROM schedules WHERE id = $id;");
            command.Parameters.AddWithValue("$id", scheduleId);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        await SqliteDatabase.CheckpointAsync(connection, cancellationToken);
        return current;
    }

    public async Task<Schedule?> GetAsync(string scheduleId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await ReadSchedulesAsync(connection, null, "WHERE s.id = $id", [("$id", scheduleId)], cancellationToken)).SingleOrDefault();
    }

    /// <summary>The schedule with this name (case-insensitive), or null.</summary>
    public async Task<Schedule?> FindByNameAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await ReadSchedulesAsync(connection, null, "WHERE s.name = $name", [("$name", name)], cancellationToken)).SingleOrDefault();
    }

    /// <summary>Schedules by name; <paramref name="projectId"/> keeps those with a target in that project.</summary>
    public async Task<IReadOnlyList<Schedule>> ListAsync(Guid? projectId, bool? enabled, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await ReadSchedulesAsync(connection, null, """
            WHERE ($enabled IS NULL OR s.enabled = $enabled)
              AND ($project IS NULL OR EXISTS (SELECT 1 FROM schedule_targets p WHERE p.schedule_id = s.id AND p.project_id = $project))
            """,
            [("$enabled", enabled is { } flag ? (flag ? 1 : 0) : null), ("$project", projectId?.ToString("D"))], cancellationToken);
    }

    public async Task<IReadOnlyList<Schedule>> DueOrderAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var due = await ReadSchedulesAsync(connection, null, "WHERE s.enabled = 1 AND s.next_run_at IS NOT NULL", [], cancellationToken);
        return [.. due.OrderBy(schedule => schedule.NextRunAt).ThenBy(schedule => schedule.Id, StringComparer.Ordinal)];
    }

    /// <summary>How many schedules have at least one target in the project.</summary>
    public async Task<int> CountForProjectAsync(Guid projectId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT count(DISTINCT schedule_id) FROM schedule_targets WHERE project_id = $project;");
        command.Parameters.AddWithValue("$project", projectId.ToString("D"));
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    /// <summary>Schedule counts of every project that has any (one query, for project lists).</summary>
    public async Task<IReadOnlyDictionary<Guid, int>> CountsByProjectAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT project_id, count(DISTINCT schedule_id) FROM schedule_targets GROUP BY project_id;");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var counts = new Dictionary<Guid, int>();
        while (await reader.ReadAsync(cancellationToken))
        {
            counts[Guid.Parse(reader.GetString(0))] = reader.GetInt32(1);
        }

        return counts;
    }

    public async Task<bool> ClaimAsync(string scheduleId, DateTimeOffset expectedDue, DateTimeOffset? nextDue, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using var command = Command(connection, transaction,
            "UPDATE schedules SET next_run_at = $next WHERE id = $id AND enabled = 1 AND next_run_at = $expected;");
        command.Parameters.AddWithValue("$id", scheduleId);
        command.Parameters.AddWithValue("$expected", Format(expectedDue));
        command.Parameters.AddWithValue("$next", Nullable(FormatOrNull(nextDue)));
        var claimed = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        await transaction.CommitAsync(cancellationToken);
        await SqliteDatabase.CheckpointAsync(connection, cancellationToken);
        return claimed;
    }

    /// <summary>Inserts the execution; nothing happens when its schedule has been deleted meanwhile.</summary>
    public async Task AddExecutionAsync(ScheduleExecution execution, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"""
            INSERT INTO schedule_executions ({ExecutionColumns})
            SELECT $id, $schedule, $project, $workspace, $trigger, $due, $status, $reason, $session, $excerpt, $error, $in, $out, $cost, $started, $finished
            WHERE EXISTS (SELECT 1 FROM schedules WHERE id = $schedule);
            """);
        BindExecution(command, execution);
        command.Parameters.AddWithValue("$schedule", execution.ScheduleId);
        command.Parameters.AddWithValue("$project", execution.ProjectId.ToString("D"));
        command.Parameters.AddWithValue("$workspace", Nullable(execution.WorkspaceId?.ToString("D")));
        command.Parameters.AddWithValue("$trigger", execution.Trigger);
        command.Parameters.AddWithValue("$due", Format(execution.DueAt));
        await command.ExecuteNonQueryAsync(cancellationToken);
        await SqliteDatabase.CheckpointAsync(connection, cancellationToken);
    }

    public async Task UpdateExecutionAsync(ScheduleExecution execution, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection, null, """
            UPDATE schedule_executions SET status = $status, reason = $reason, session_id = $session, output_excerpt = $excerpt, error = $error,
                tokens_in = $in, tokens_out = $out, cost_usd = $cost, started_at = $started, finished_at = $finished
            WHERE id = $id;
            """);
        BindExecution(command, execution);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await SqliteDatabase.CheckpointAsync(connection, cancellationToken);
    }

    public async Task<IReadOnlyList<ScheduleExecution>> RunningExecutionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT {ExecutionColumns} FROM schedule_executions WHERE status = 'running' ORDER BY seq;");
        return await ReadExecutionsAsync(command, cancellationToken);
    }

    /// <summary>
    /// The schedule's executions, newest first (by due time), at most <paramref name="limit"/>; with
    /// <paramref name="projectId"/> only those of targets in that project.
    /// </summary>
    public async Task<IReadOnlyList<ScheduleExecution>> HistoryAsync(string scheduleId, int limit, Guid? projectId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            $"SELECT {ExecutionColumns} FROM schedule_executions WHERE schedule_id = $schedule AND ($project IS NULL OR project_id = $project) {NewestFirst} LIMIT $limit;");
        command.Parameters.AddWithValue("$schedule", scheduleId);
        command.Parameters.AddWithValue("$project", Nullable(projectId?.ToString("D")));
        command.Parameters.AddWithValue("$limit", limit);
        return await ReadExecutionsAsync(command, cancellationToken);
    }

    public async Task PinAsync(string scheduleId, Guid projectId, Guid? workspaceId, string sessionId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            "UPDATE schedule_targets SET pinned_session_id = $session WHERE schedule_id = $schedule AND project_id = $project AND workspace_id IS $workspace;");
        command.Parameters.AddWithValue("$schedule", scheduleId);
        command.Parameters.AddWithValue("$project", projectId.ToString("D"));
        command.Parameters.AddWithValue("$workspace", Nullable(workspaceId?.ToString("D")));
        command.Parameters.AddWithValue("$session", sessionId);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await SqliteDatabase.CheckpointAsync(connection, cancellationToken);
    }

    public async Task DisableAsync(string scheduleId, string reason, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            "UPDATE schedules SET enabled = 0, next_run_at = NULL, disabled_reason = $reason, updated_at = $now WHERE id = $id;");
        command.Parameters.AddWithValue("$id", scheduleId);
        command.Parameters.AddWithValue("$reason", reason);
        command.Parameters.AddWithValue("$now", Format(time.GetUtcNow()));
        await command.ExecuteNonQueryAsync(cancellationToken);
        await SqliteDatabase.CheckpointAsync(connection, cancellationToken);
    }

    /// <summary>
    /// Deletes all but the newest <paramref name="keep"/> executions of the schedule (newest as history orders them).
    /// Executions still <c>running</c> are never deleted: the runner still has to finish them.
    /// </summary>
    public async Task PruneExecutionsAsync(string scheduleId, int keep, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"""
            DELETE FROM schedule_executions
            WHERE schedule_id = $schedule AND status <> 'running'
              AND seq NOT IN (SELECT seq FROM schedule_executions WHERE schedule_id = $schedule {NewestFirst} LIMIT $keep);
            """);
        command.Parameters.AddWithValue("$schedule", scheduleId);
        command.Parameters.AddWithValue("$keep", Math.Max(0, keep));
        await command.ExecuteNonQueryAsync(cancellationToken);
        await SqliteDatabase.CheckpointAsync(connection, cancellationToken);
    }

    /// <summary>
    /// Restore: copies the schedules with a target in the project (all their targets, pins and executions) from
    /// <paramref name="archivedDatabase"/> (a schedules.db at this release's schema version) into this one, in one
    /// transaction. A schedule whose id or name is already here is kept as it is and counted in <c>Kept</c>.
    /// </summary>
    public async Task<(int Restored, int Kept)> MergeProjectSchedulesAsync(string archivedDatabase, Guid projectId, CancellationToken cancellationToken)
    {
        await using var connection = await SqliteDatabase.OpenAttachedAsync(database.Path, archivedDatabase, foreignKeys: true, cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = Command(connection, transaction, $"""
            CREATE TEMP TABLE wanted AS SELECT s.id, s.name FROM archived.schedules s
                WHERE EXISTS (SELECT 1 FROM archived.schedule_targets t WHERE t.schedule_id = s.id AND t.project_id = $project);
            CREATE TEMP TABLE restored AS SELECT w.id FROM wanted w
                WHERE NOT EXISTS (SELECT 1 FROM main.schedules m WHERE m.id = w.id OR m.name = w.name COLLATE NOCASE);
            INSERT INTO main.schedules SELECT * FROM archived.schedules WHERE id IN (SELECT id FROM restored);
            INSERT INTO main.schedule_targets SELECT * FROM archived.schedule_targets WHERE schedule_id IN (SELECT id FROM restored);
            INSERT OR IGNORE INTO main.schedule_executions ({ExecutionColumns})
                SELECT {ExecutionColumns} FROM archived.schedule_executions WHERE schedule_id IN (SELECT id FROM restored) ORDER BY seq;
            """))
        {
            command.Parameters.AddWithValue("$project", projectId.ToString("D"));
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        int wanted;
        int restored;
        await using (var count = Command(connection, transaction, "SELECT (SELECT count(*) FROM wanted), (SELECT count(*) FROM restored);"))
        await using (var reader = await count.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            wanted = reader.GetInt32(0);
            restored = reader.GetInt32(1);
        }

        await using (var drop = Command(connection, transaction, "DROP TABLE temp.wanted; DROP TABLE temp.restored;"))
        {
            await drop.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        await SqliteDatabase.CheckpointAsync(connection, cancellationToken);
        return (restored, wanted - restored);
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    private static void BindSchedule(SqliteCommand command, Schedule schedule)
    {
        command.Parameters.AddWithValue("$id", schedule.Id);
        command.Parameters.AddWithValue("$name", schedule.Name);
        command.Parameters.AddWithValue("$cron", schedule.CronExpr);
        command.Parameters.AddWithValue("$zone", Nullable(schedule.TimeZone));
        command.Parameters.AddWithValue("$prompt", schedule.Prompt);
        command.Parameters.AddWithValue("$enabled", schedule.Enabled ? 1 : 0);
        command.Parameters.AddWithValue("$overlap", ScheduleWire.Name(schedule.OverlapBehavior));
        command.Parameters.AddWithValue("$session", ScheduleWire.Name(schedule.SessionBehavior));
        command.Parameters.AddWithValue("$model", Nullable(schedule.Model));
        command.Parameters.AddWithValue("$autonomy", Nullable(schedule.Autonomy));
        command.Parameters.AddWithValue("$reasoning", Nullable(schedule.Reasoning));
        command.Parameters.AddWithValue("$creator", schedule.CreatorTokenId);
        command.Parameters.AddWithValue("$updated", Format(schedule.UpdatedAt));
    }

    private static void BindExecution(SqliteCommand command, ScheduleExecution execution)
    {
        command.Parameters.AddWithValue("$id", execution.Id);
        command.Parameters.AddWithValue("$status", ScheduleWire.Name(execution.Status));
        command.Parameters.AddWithValue("$reason", Nullable(execution.Reason));
        command.Parameters.AddWithValue("$session", Nullable(execution.SessionId));
        command.Parameters.AddWithValue("$excerpt", Nullable(execution.OutputExcerpt));
        command.Parameters.AddWithValue("$error", Nullable(execution.Error));
        command.Parameters.AddWithValue("$in", execution.TokensIn);
        command.Parameters.AddWithValue("$out", execution.TokensOut);
        command.Parameters.AddWithValue("$cost", execution.CostUsd);
        command.Parameters.AddWithValue("$started", Nullable(FormatOrNull(execution.StartedAt)));
        command.Parameters.AddWithValue("$finished", Nullable(FormatOrNull(execution.FinishedAt)));
    }

    private static async Task InsertTargetsAsync(SqliteConnection connection, SqliteTransaction transaction, string scheduleId, IReadOnlyList<ScheduleTarget> targets, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, """
            INSERT INTO schedule_targets (schedule_id, position, project_id, workspace_id, pinned_session_id)
            VALUES ($schedule, $position, $project, $workspace, $pinned);
            """);
        command.Parameters.AddWithValue("$schedule", scheduleId);
        var position = command.Parameters.Add("$position", SqliteType.Integer);
        var project = command.Parameters.Add("$project", SqliteType.Text);
        var workspace = command.Parameters.Add("$workspace", SqliteType.Text);
        var pinned = command.Parameters.Add("$pinned", SqliteType.Text);
        for (var index = 0; index < targets.Count; index++)
        {
            position.Value = index;
            project.Value = targets[index].ProjectId.ToString("D");
            workspace.Value = Nullable(targets[index].WorkspaceId?.ToString("D"));
            pinned.Value = Nullable(targets[index].PinnedSessionId);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>Runs an insert or update of a schedule row, turning the unique-name constraint into a clear conflict.</summary>
    private static async Task ExecuteUniqueAsync(SqliteCommand command, string name, CancellationToken cancellationToken)
    {
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (SqliteException exception) when (exception.SqliteExtendedErrorCode == 2067 /* SQLITE_CONSTRAINT_UNIQUE */)
        {
            throw new ConflictException($"a schedule named '{name}' already exists; names are unique");
        }
    }

    private static async Task<IReadOnlyList<Schedule>> ReadSchedulesAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string where, (string Name, object? Value)[] parameters, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, $"""
            SELECT {ScheduleColumns} FROM schedules s LEFT JOIN schedule_targets t ON t.schedule_id = s.id
            {where}
            ORDER BY s.name, s.id, t.position;
            """);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var schedules = new List<Schedule>();
        List<ScheduleTarget>? targets = null;
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetString(0);
            if (schedules.Count == 0 || schedules[^1].Id != id)
            {
                targets = [];
                schedules.Add(ReadSchedule(reader, targets));
            }

            if (ReadTarget(reader) is { } target)
            {
                targets!.Add(target);
            }
        }

        return schedules;
    }

    private static async Task<IReadOnlyList<ScheduleExecution>> ReadExecutionsAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var executions = new List<ScheduleExecution>();
        while (await reader.ReadAsync(cancellationToken))
        {
            executions.Add(ReadExecution(reader));
        }

        return executions;
    }

    // Row mapping stays out of the async readers: Microsoft.Data.Sqlite answers IsDBNull from the row already read.
    private static Schedule ReadSchedule(SqliteDataReader reader, List<ScheduleTarget> targets) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        NullableString(reader, 3),
        reader.GetString(4),
        targets,
        reader.GetInt64(5) == 1,
        ScheduleWire.ParseOverlap("overlap_behavior", reader.GetString(6)),
        ScheduleWire.ParseSession("session_behavior", reader.GetString(7)),
        NullableString(reader, 8),
        NullableString(reader, 9),
        NullableString(reader, 10),
        reader.GetString(11),
        Parse(reader.GetString(12)),
        Parse(reader.GetString(13)),
        NullableTime(reader, 14),
        NullableString(reader, 15));

    /// <summary>The target on this row of the schedules-join-targets query; null for a schedule without targets.</summary>
    private static ScheduleTarget? ReadTarget(SqliteDataReader reader) =>
        reader.IsDBNull(16)
            ? null
            : new ScheduleTarget(Guid.Parse(reader.GetString(16)), NullableGuid(reader, 17), NullableString(reader, 18));

    private static ScheduleExecution ReadExecution(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        Guid.Parse(reader.GetString(2)),
        NullableGuid(reader, 3),
        reader.GetString(4),
        Parse(reader.GetString(5)),
        ScheduleWire.ParseStatus(reader.GetString(6)),
        NullableString(reader, 7),
        NullableString(reader, 8),
        NullableString(reader, 9),
        NullableString(reader, 10),
        reader.GetInt64(11),
        reader.GetInt64(12),
        reader.GetDouble(13),
        NullableTime(reader, 14),
        NullableTime(reader, 15));

    private static string? NullableString(SqliteDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetString(column);

    private static Guid? NullableGuid(SqliteDataReader reader, int column) => reader.IsDBNull(column) ? null : Guid.Parse(reader.GetString(column));

    private static DateTimeOffset? NullableTime(SqliteDataReader reader, int column) => reader.IsDBNull(column) ? null : Parse(reader.GetString(column));

    private static object Nullable(object? value) => value ?? DBNull.Value;

    // Fixed-width UTC ISO-8601 so that text comparison in SQL orders like time (the format auth.db uses).
    internal static string Format(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static string? FormatOrNull(DateTimeOffset? at) => at is { } value ? Format(value) : null;

    private static DateTimeOffset Parse(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
