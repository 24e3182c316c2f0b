using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Oubliette.Errors;
using Oubliette.Schedules;
using Oubliette.Storage;

namespace Oubliette.Tests.Schedules;

/// <summary><c>data/schedules.db</c>: round trips, the claim's compare-and-set, pins, history, pruning, migrations, file safety.</summary>
public sealed class ScheduleStoreTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "oubliette-schedules-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly FakeTimeProvider _time = new(Start);
    private readonly Guid _projectA = Guid.NewGuid();
    private readonly Guid _projectB = Guid.NewGuid();
    private ScheduleStore _store = null!;

    private string DatabasePath => Path.Combine(_directory, "schedules.db");
    private CancellationToken Token => CancellationToken.None;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _store = new ScheduleStore(new SqliteDatabase(DatabasePath, foreignKeys: true), _time);
        await _store.InitializeAsync(Token);
    }

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    private Schedule NewSchedule(string name, params ScheduleTarget[] targets) => new(
        "sch_" + Guid.NewGuid().ToString("N")[..16], name, "*/5 * * * *", "Europe/Berlin", "check the build",
        targets.Length == 0 ? [new ScheduleTarget(_projectA, null)] : targets,
        true, OverlapBehavior.Queue, SessionBehavior.New, "fast", "low", null, "tok_creator1", Start, Start, Start.AddMinutes(5), null);

    private static ScheduleExecution Execution(string id, string scheduleId, Guid project, DateTimeOffset due, ExecutionStatus status = ExecutionStatus.Success) =>
        new(id, scheduleId, project, null, "cron", due, status, null, "gogol_20260301_080000_abcdef12", "done", null, 10, 20, 0.25, due, due.AddSeconds(30));

    [Fact]
    public async Task A_schedule_round_trips_with_its_targets_in_order()
    {
        var workspace = Guid.NewGuid();
        var schedule = NewSchedule("nightly", new ScheduleTarget(_projectB, workspace, "gogol_x"), new ScheduleTarget(_projectA, null));

        await _store.InsertAsync(schedule, Token);
        var read = await _store.GetAsync(schedule.Id, Token);

        Assert.NotNull(read);
        Assert.Equal(schedule with { Targets = [] }, read with { Targets = [] });
        Assert.Equal(schedule.Targets, read.Targets);
        Assert.Equal(schedule.Id, (await _store.FindByNameAsync("NIGHTLY", Token))?.Id);
        Assert.Null(await _store.GetAsync("sch_missing", Token));
    }

    [Fact]
    public async Task The_file_is_owner_only_in_WAL_mode_with_foreign_keys_enforced()
    {
        var schedule = NewSchedule("fk");
        await _store.InsertAsync(schedule, Token);
        await _store.AddExecutionAsync(Execution("exe_1", schedule.Id, _projectA, Start), Token);

        await _store.DeleteAsync(schedule.Id, Token);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(DatabasePath));
        await using var connection = await _store.Database.OpenAsync(Token);
        Assert.Equal("wal", await ScalarAsync(connection, "PRAGMA journal_mode;"));
        Assert.Equal(1L, await ScalarAsync(connection, "PRAGMA foreign_keys;"));
        Assert.Equal(0L, await ScalarAsync(connection, "SELECT count(*) FROM schedule_executions;"));
        Assert.Equal(0L, await ScalarAsync(connection, "SELECT count(*) FROM schedule_targets;"));
        Assert.Equal(1L, await ScalarAsync(connection, "PRAGMA user_version;"));
    }

    [Fact]
    public async Task Names_are_unique_ignoring_case()
    {
        await _store.InsertAsync(NewSchedule("Daily report"), Token);

        var clash = await Assert.ThrowsAsync<ConflictException>(() => _store.InsertAsync(NewSchedule("daily REPORT"), Token));

        Assert.Contains("'daily REPORT' already exists", clash.Message, StringComparison.Ordinal);
        Assert.Single(await _store.ListAsync(null, null, Token));
    }

    [Fact]
    public async Task List_filters_by_target_project_and_enabled_and_counts_per_project()
    {
        await _store.InsertAsync(NewSchedule("a-only"), Token);
        await _store.InsertAsync(NewSchedule("both", new ScheduleTarget(_projectA, null), new ScheduleTarget(_projectB, null)), Token);
        await _store.InsertAsync(NewSchedule("b-off", new ScheduleTarget(_projectB, null)) with { Enabled = false, NextRunAt = null }, Token);

        Assert.Equal(["a-only", "b-off", "both"], (await _store.ListAsync(null, null, Token)).Select(schedule => schedule.Name));
        Assert.Equal(["b-off", "both"], (await _store.ListAsync(_projectB, null, Token)).Select(schedule => schedule.Name));
        Assert.Equal(["both"], (await _store.ListAsync(_projectB, true, Token)).Select(schedule => schedule.Name));
        Assert.Equal(["b-off"], (await _store.ListAsync(null, false, Token)).Select(schedule => schedule.Name));
        Assert.Equal(2, await _store.CountForProjectAsync(_projectA, Token));
        Assert.Equal(0, await _store.CountForProjectAsync(Guid.NewGuid(), Token));
        var counts = await _store.CountsByProjectAsync(Token);
        Assert.Equal(2, counts[_projectA]);
        Assert.Equal(2, counts[_projectB]);
        Assert.Equal(["a-only", "both"], (await _store.DueOrderAsync(Token)).Select(schedule => schedule.Name).Order());
    }

    [Fact]
    public async Task A_claim_moves_next_run_at_only_from_the_expected_due_time()
    {
        var schedule = NewSchedule("claimed");
        await _store.InsertAsync(schedule, Token);
        var due = schedule.NextRunAt!.Value;

        var first = await _store.ClaimAsync(schedule.Id, due, due.AddMinutes(5), Token);
        var again = await _store.ClaimAsync(schedule.Id, due, due.AddMinutes(5), Token);

        Assert.True(first);
        Assert.False(again);
        Assert.Equal(due.AddMinutes(5), (await _store.GetAsync(schedule.Id, Token))!.NextRunAt);
    }

    [Fact]
    public async Task Of_many_concurrent_claims_of_one_due_time_exactly_one_wins_also_from_another_connection_pool()
    {
        var schedule = NewSchedule("raced");
        await _store.InsertAsync(schedule, Token);
        var due = schedule.NextRunAt!.Value;
        // A second store on the same file, with its own connections.
        var stores = new[] { _store, new ScheduleStore(new SqliteDatabase(DatabasePath, foreignKeys: true), _time) };

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(index => Task.Run(() => stores[index % 2].ClaimAsync(schedule.Id, due, due.AddMinutes(5), Token))));

        Assert.Single(results, won => won);
    }

    [Fact]
    public async Task A_disabled_schedule_cannot_be_claimed_and_keeps_its_reason()
    {
        var schedule = NewSchedule("revoked");
        await _store.InsertAsync(schedule, Token);
        _time.Advance(TimeSpan.FromMinutes(1));

        await _store.DisableAsync(schedule.Id, "creator token tok_creator1 was revoked", Token);
        var claimed = await _store.ClaimAsync(schedule.Id, schedule.NextRunAt!.Value, null, Token);
        var read = await _store.GetAsync(schedule.Id, Token);

        Assert.False(claimed);
        Assert.False(read!.Enabled);
        Assert.Null(read.NextRunAt);
        Assert.Equal("creator token tok_creator1 was revoked", read.DisabledReason);
        Assert.Equal(Start.AddMinutes(1), read.UpdatedAt);
        Assert.Empty(await _store.DueOrderAsync(Token));
    }

    [Fact]
    public async Task An_update_keeps_the_pins_of_targets_that_stay_and_drops_the_others()
    {
        var workspace = Guid.NewGuid();
        var schedule = NewSchedule("pinned", new ScheduleTarget(_projectA, null), new ScheduleTarget(_projectB, workspace));
        await _store.InsertAsync(schedule, Token);
        await _store.PinAsync(schedule.Id, _projectA, null, "gogol_a", Token);
        await _store.PinAsync(schedule.Id, _projectB, workspace, "gogol_b", Token);
        var other = Guid.NewGuid();

        var updated = await _store.UpdateAsync(schedule.Id, current => (current with
        {
            // The new list claims other pins: the store keeps what the database holds.
            Targets = [new ScheduleTarget(other, null, "ignored"), new ScheduleTarget(_projectA, null, "ignored")],
        }, false), Token);

        Assert.Equal([new ScheduleTarget(other, null), new ScheduleTarget(_projectA, null, "gogol_a")], updated!.Targets);
        Assert.Equal(updated.Targets, (await _store.GetAsync(schedule.Id, Token))!.Targets);
    }

    [Fact]
    public async Task An_update_without_a_timing_change_leaves_a_claimed_next_run_and_a_disable_alone()
    {
        var schedule = NewSchedule("racing-update");
        await _store.InsertAsync(schedule, Token);
        var due = schedule.NextRunAt!.Value;
        // Read by the service before the runner's claim, written after it.
        var stale = await _store.GetAsync(schedule.Id, Token);
        Assert.True(await _store.ClaimAsync(schedule.Id, due, due.AddMinutes(5), Token));

        var updated = await _store.UpdateAsync(schedule.Id, current => (stale! with { Prompt = "new prompt", NextRunAt = due }, false), Token);

        Assert.Equal("new prompt", updated!.Prompt);
        Assert.Equal(due.AddMinutes(5), updated.NextRunAt);
        Assert.Null(await _store.UpdateAsync("sch_missing", current => (current, false), Token));
    }

    [Fact]
    public async Task A_rescheduling_update_writes_next_run_at_and_clears_the_disabled_reason()
    {
        var schedule = NewSchedule("re-enabled");
        await _store.InsertAsync(schedule, Token);
        await _store.DisableAsync(schedule.Id, "token expired", Token);

        var updated = await _store.UpdateAsync(schedule.Id, current => (current with { Enabled = true, NextRunAt = Start.AddHours(1), DisabledReason = null }, true), Token);

        Assert.True(updated!.Enabled);
        Assert.Equal(Start.AddHours(1), updated.NextRunAt);
        Assert.Null(updated.DisabledReason);
    }

    [Fact]
    public async Task Executions_round_trip_and_history_is_newest_first_with_limit_and_target_filter()
    {
        var schedule = NewSchedule("history", new ScheduleTarget(_projectA, null), new ScheduleTarget(_projectB, null));
        await _store.InsertAsync(schedule, Token);
        var running = new ScheduleExecution("exe_run", schedule.Id, _projectB, null, "manual", Start.AddMinutes(20), ExecutionStatus.Running, null, null, null, null, 0, 0, 0, Start.AddMinutes(20), null);
        await _store.AddExecutionAsync(Execution("exe_1", schedule.Id, _projectA, Start.AddMinutes(5)), Token);
        await _store.AddExecutionAsync(Execution("exe_2", schedule.Id, _projectB, Start.AddMinutes(10)) with { Status = ExecutionStatus.Skipped, Reason = "missed", SessionId = null }, Token);
        await _store.AddExecutionAsync(running, Token);

        var finished = running with { Status = ExecutionStatus.Failed, Error = "model refused", OutputExcerpt = "partial", TokensIn = 5, TokensOut = 6, CostUsd = 0.5, SessionId = "gogol_s", FinishedAt = Start.AddMinutes(21) };
        Assert.Equal([running], await _store.RunningExecutionsAsync(Token));
        await _store.UpdateExecutionAsync(finished, Token);

        Assert.Equal(["exe_run", "exe_2", "exe_1"], (await _store.HistoryAsync(schedule.Id, 20, null, Token)).Select(execution => execution.Id));
        Assert.Equal(finished, (await _store.HistoryAsync(schedule.Id, 1, null, Token)).Single());
        Assert.Equal(["exe_run", "exe_2"], (await _store.HistoryAsync(schedule.Id, 20, _projectB, Token)).Select(execution => execution.Id));
        Assert.Empty(await _store.RunningExecutionsAsync(Token));
    }

    [Fact]
    public async Task An_execution_of_a_deleted_schedule_and_a_pin_on_a_removed_target_change_nothing()
    {
        var schedule = NewSchedule("gone");
        await _store.InsertAsync(schedule, Token);
        await _store.DeleteAsync(schedule.Id, Token);

        await _store.AddExecutionAsync(Execution("exe_late", schedule.Id, _projectA, Start), Token);
        await _store.PinAsync(schedule.Id, _projectA, null, "gogol_late", Token);

        Assert.Empty(await _store.HistoryAsync(schedule.Id, 20, null, Token));
        Assert.Null(await _store.DeleteAsync(schedule.Id, Token));
    }

    [Fact]
    public async Task Pruning_keeps_the_newest_executions_and_every_running_one()
    {
        var schedule = NewSchedule("pruned");
        await _store.InsertAsync(schedule, Token);
        for (var minute = 1; minute <= 6; minute++)
        {
            var status = minute == 1 ? ExecutionStatus.Running : ExecutionStatus.Success;
            await _store.AddExecutionAsync(Execution($"exe_{minute}", schedule.Id, _projectA, Start.AddMinutes(minute), status), Token);
        }

        await _store.PruneExecutionsAsync(schedule.Id, 3, Token);

        Assert.Equal(["exe_6", "exe_5", "exe_4", "exe_1"], (await _store.HistoryAsync(schedule.Id, 20, null, Token)).Select(execution => execution.Id));
    }

    [Fact]
    public async Task A_version_1_file_upgrades_through_a_later_step_without_losing_rows()
    {
        var schedule = NewSchedule("survivor", new ScheduleTarget(_projectA, null, "gogol_pin"));
        await _store.InsertAsync(schedule, Token);
        await _store.AddExecutionAsync(Execution("exe_kept", schedule.Id, _projectA, Start), Token);
        // A later release's step that rebuilds the parent table (the hard kind: executions and targets point at it).
        string[] later =
        [
            .. ScheduleStore.Migrations,
            """
            CREATE TABLE schedules_new (
                id TEXT PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE UNIQUE, cron_expr TEXT NOT NULL, time_zone TEXT NULL, prompt TEXT NOT NULL,
                enabled INTEGER NOT NULL, overlap_behavior TEXT NOT NULL, session_behavior TEXT NOT NULL, model TEXT NULL, autonomy TEXT NULL,
                reasoning TEXT NULL, creator_token_id TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, next_run_at TEXT NULL,
                disabled_reason TEXT NULL, added TEXT NOT NULL DEFAULT 'v2');
            INSERT INTO schedules_new SELECT *, 'v2' FROM schedules;
            DROP TABLE schedules;
            ALTER TABLE schedules_new RENAME TO schedules;
            """,
        ];

        var before = await new SqliteDatabase(DatabasePath, foreignKeys: true).MigrateAsync(later, Token);
        var again = await new SqliteDatabase(DatabasePath, foreignKeys: true).MigrateAsync(later, Token);
        var read = await _store.GetAsync(schedule.Id, Token);

        Assert.Equal(1, before);
        Assert.Equal(2, again);
        Assert.Equal(schedule.Targets, read!.Targets);
        Assert.Single(await _store.HistoryAsync(schedule.Id, 20, null, Token));
        await using var connection = await _store.Database.OpenAsync(Token);
        Assert.Equal("v2", await ScalarAsync(connection, "SELECT added FROM schedules;"));
        Assert.Equal(2L, await ScalarAsync(connection, "PRAGMA user_version;"));
    }

    [Fact]
    public async Task A_file_from_a_newer_release_is_refused_and_left_as_it_is()
    {
        await using (var connection = await _store.Database.OpenAsync(Token))
        {
            await ScalarAsync(connection, "PRAGMA user_version = 7;");
        }

        var refused = await Assert.ThrowsAsync<Oubliette.Errors.ConflictException>(() => _store.InitializeAsync(Token));

        Assert.Contains("schema version 7, newer than the 1 this release knows", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_stores_migrating_one_new_file_at_once_apply_each_step_once()
    {
        var path = Path.Combine(_directory, "fresh.db");
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => new SqliteDatabase(path, foreignKeys: true).MigrateAsync(ScheduleStore.Migrations, Token))));

        Assert.All(results, version => Assert.InRange(version, 0, 1));
        await using var connection = new SqliteConnection($"Data Source={path}");
        await connection.OpenAsync(Token);
        Assert.Equal(1L, await ScalarAsync(connection, "PRAGMA user_version;"));
    }

    [Fact]
    public async Task Vacuum_and_a_copy_with_the_sqlite3_tool_while_the_store_writes_corrupt_nothing()
    {
        var schedule = NewSchedule("busy");
        await _store.InsertAsync(schedule, Token);
        await _store.AddExecutionAsync(Execution("exe_idle", schedule.Id, _projectA, Start), Token);

        // The runbook's commands as written, while the store is open between writes (as the server is between runs).
        var idleVacuum = await RunAsync("sqlite3", DatabasePath, "VACUUM;");
        File.Copy(DatabasePath, DatabasePath + ".idle-copy");
        var idleCopyIntegrity = await RunAsync("sqlite3", DatabasePath + ".idle-copy", "PRAGMA integrity_check;");
        Assert.True(idleVacuum.ExitCode == 0, idleVacuum.Error);
        Assert.Equal("ok", idleCopyIntegrity.Output.Trim());

        // Then while writes are in flight: the CLI has no busy timeout of its own, so it is given one (without it, a VACUUM
        // that starts during a write is refused with "database is locked", which changes nothing either).
        var acknowledged = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            var due = schedule.NextRunAt!.Value;
            for (var index = 0; !stop.IsCancellationRequested; index++)
            {
                await _store.AddExecutionAsync(Execution($"exe_{index}", schedule.Id, _projectA, due), CancellationToken.None);
                Assert.True(await _store.ClaimAsync(schedule.Id, due, due.AddMinutes(5), CancellationToken.None));
                due = due.AddMinutes(5);
                acknowledged.Enqueue($"exe_{index}");
            }
        });
        while (acknowledged.Count < 20)
        {
            await Task.Delay(10, Token);
        }

        File.Copy(DatabasePath, DatabasePath + ".copy");
        var vacuum = await RunAsync("sqlite3", "-cmd", ".timeout 10000", DatabasePath, "VACUUM;");
        var backup = await RunAsync("sqlite3", "-cmd", ".timeout 10000", DatabasePath, $".backup '{DatabasePath}.backup'");
        var written = acknowledged.Count;
        while (acknowledged.Count < written + 20)
        {
            await Task.Delay(10, Token);
        }

        await stop.CancelAsync();
        await writer;
        var copyIntegrity = await RunAsync("sqlite3", DatabasePath + ".copy", "PRAGMA integrity_check;");
        var backupIntegrity = await RunAsync("sqlite3", DatabasePath + ".backup", "PRAGMA integrity_check;");
        var liveIntegrity = await RunAsync("sqlite3", DatabasePath, "PRAGMA integrity_check;");

        Assert.True(vacuum.ExitCode == 0, vacuum.Error);
        Assert.True(backup.ExitCode == 0, backup.Error);
        Assert.Equal("ok", copyIntegrity.Output.Trim());
        Assert.Equal("ok", backupIntegrity.Output.Trim());
        Assert.Equal("ok", liveIntegrity.Output.Trim());
        var stored = (await _store.HistoryAsync(schedule.Id, 100_000, null, Token)).Select(execution => execution.Id).ToHashSet();
        Assert.All(acknowledged, id => Assert.Contains(id, stored));
        Assert.Equal(schedule.NextRunAt!.Value.AddMinutes(5 * acknowledged.Count), (await _store.GetAsync(schedule.Id, Token))!.NextRunAt);
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(string tool, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // Installed by scripts/install-prerequisites.sh; a missing tool fails this test loudly.
        using var process = System.Diagnostics.Process.Start(startInfo)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, output, error);
    }
}
