using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Operations;
using Oubliette.Schedules;
using Oubliette.Testing;
using Prometheus;

namespace Oubliette.Tests.Schedules;

/// <summary>
/// The runner over an in-memory store, fake sessions and fake tokens, on a <see cref="FakeTimeProvider"/>: the clock only
/// moves when a test advances it, and the tests sync on the loop going to sleep (never on the wall clock).
/// </summary>
public sealed class ScheduleRunnerTests : IAsyncDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private static readonly Guid ProjectA = Guid.Parse("11111111-1111-1111-1111-111111111111");
    private static readonly Guid ProjectB = Guid.Parse("22222222-2222-2222-2222-222222222222");
    private const string Creator = "tok_creator";

    private readonly FakeTimeProvider _time = new(Start);
    private readonly InMemoryScheduleRunStore _store = new();
    private readonly FakeScheduledSessions _sessions = new();
    private readonly FakeScheduleTokens _tokens = new();
    private readonly OublietteMetrics _metrics = new(Metrics.NewCustomRegistry());
    private readonly List<RunnerUnderTest> _runners = [];

    public ScheduleRunnerTests() => _tokens.Add(Creator, TokenScope.Admin);

    public async ValueTask DisposeAsync()
    {
        foreach (var runner in _runners)
        {
            await runner.Runner.StopAsync(CancellationToken.None);
            runner.Runner.Dispose();
        }
    }

    [Fact]
    public async Task A_due_run_starts_at_its_due_time_claims_the_next_and_records_the_turn()
    {
        _sessions.CompleteAtOnce = true;
        _store.Put(NewSchedule("sch_1", "*/10 * * * * *", Start.AddSeconds(10)));
        var runner = await StartRunnerAsync();
        Assert.Equal(Start.AddSeconds(10), await runner.NextSleepAsync());

        _time.Advance(TimeSpan.FromSeconds(10));

        var executions = await _store.WaitForAsync(all => all is [{ Status: ExecutionStatus.Success }], Patience);
        var execution = executions[0];
        Assert.Equal((ScheduleRunner.CronTrigger, Start.AddSeconds(10), Start.AddSeconds(10), Start.AddSeconds(10)),
            (execution.Trigger, execution.DueAt, execution.StartedAt, execution.FinishedAt));
        Assert.Equal(("session-1", "output of turn 1", 10L, 5L, 0.01), (execution.SessionId, execution.OutputExcerpt, execution.TokensIn, execution.TokensOut, execution.CostUsd));
        Assert.Equal(Start.AddSeconds(20), await runner.NextSleepAsync());
        Assert.Equal(Start.AddSeconds(20), _store.Schedule("sch_1").NextRunAt);
        var turn = Assert.Single(_sessions.Turns);
        Assert.Equal(("do the thing", Creator, ProjectA), (turn.Prompt, turn.Actor, turn.Spawn?.ProjectId));
        Assert.Equal(1, _metrics.ScheduleRuns.WithLabels("success").Value);
        Assert.Equal(1, _metrics.ScheduleLag.Count);
    }

    [Fact]
    public async Task Two_runners_on_one_store_run_a_due_time_once()
    {
        _sessions.CompleteAtOnce = true;
        _store.Put(NewSchedule("sch_1", "*/10 * * * * *", Start.AddSeconds(10)));
        var first = await StartRunnerAsync();
        var second = await StartRunnerAsync();
        Assert.Equal(Start.AddSeconds(10), await first.NextSleepAsync());
        Assert.Equal(Start.AddSeconds(10), await second.NextSleepAsync());

        _time.Advance(TimeSpan.FromSeconds(10));

        // Both have looked again and gone back to sleep until the next due time: both saw the due time.
        Assert.Equal(Start.AddSeconds(20), await first.NextSleepAsync());
        Assert.Equal(Start.AddSeconds(20), await second.NextSleepAsync());
        await first.Runner.IdleAsync();
        await second.Runner.IdleAsync();
        Assert.Single(_store.Executions);
        Assert.Single(_sessions.Turns);
        Assert.Single(_store.Claims);
    }

    [Fact]
    public async Task Runs_missed_while_down_are_recorded_once_per_target_and_not_run()
    {
        _sessions.CompleteAtOnce = true;
        // The server was down from 11:55 on: thirty due times passed.
        _store.Put(NewSchedule("sch_1", "*/10 * * * * *", Start.AddMinutes(-5), targets: [new ScheduleTarget(ProjectA, null), new ScheduleTarget(ProjectB, null)]));
        var runner = await StartRunnerAsync();

        Assert.Equal(Start.AddSeconds(10), await runner.NextSleepAsync());
        var executions = _store.Executions;
        Assert.Equal(2, executions.Count);
        Assert.All(executions, execution => Assert.Equal((ExecutionStatus.Skipped, ScheduleRunner.MissedReason, Start.AddMinutes(-5)), (execution.Status, execution.Reason, execution.DueAt)));
        Assert.Equal([ProjectA, ProjectB], executions.Select(execution => execution.ProjectId));
        Assert.Empty(_sessions.Turns);
        Assert.Equal(2, _metrics.ScheduleRuns.WithLabels("skipped").Value);

        // The next due time runs normally, once per target.
        _time.Advance(TimeSpan.FromSeconds(10));
        await _store.WaitForAsync(all => all.Count(execution => execution.Status == ExecutionStatus.Success) == 2, Patience);
        Assert.Equal(2, _sessions.Turns.Count);
    }

    [Theory]
    [InlineData("* * * * *", 5, true)] // 5 s late, the next due time is still ahead: it runs, late
    [InlineData("0 * * * *", 61, false)] // older than the 60 s grace: missed
    [InlineData("*/10 * * * * *", 15, false)] // within the grace, but a later due time has passed too: missed
    public async Task A_due_time_found_late_runs_only_within_the_grace_and_when_no_later_one_passed(string cron, int lateSeconds, bool runs)
    {
        _sessions.CompleteAtOnce = true;
        _store.Put(NewSchedule("sch_1", cron, Start));
        _time.Advance(TimeSpan.FromSeconds(lateSeconds));
        var runner = await StartRunnerAsync();
        await runner.NextSleepAsync();
        await runner.Runner.IdleAsync();

        var execution = Assert.Single(_store.Executions);
        Assert.Equal(runs ? ExecutionStatus.Success : ExecutionStatus.Skipped, execution.Status);
        Assert.Equal(runs ? 1 : 0, _sessions.Turns.Count);
        Assert.Equal(runs ? 1 : 0, _metrics.ScheduleLag.Count);
        if (runs)
        {
            Assert.Equal(lateSeconds, _metrics.ScheduleLag.Sum, 3);
        }
    }

    [Fact]
    public async Task Overlap_skip_records_a_skipped_run_while_the_previous_one_runs()
    {
        _store.Put(NewSchedule("sch_1", "0 0 * * *", null, OverlapBehavior.Skip));
        var runner = await StartRunnerAsync();
        var first = Assert.Single(await runner.Runner.TriggerAsync("sch_1", CancellationToken.None));
        var running = await _sessions.NextStartedAsync(Patience);

        var second = Assert.Single(await runner.Runner.TriggerAsync("sch_1", CancellationToken.None));

        Assert.Equal((ExecutionStatus.Skipped, ScheduleRunner.OverlapReason), (Execution(second).Status, Execution(second).Reason));
        Assert.Single(_sessions.Turns);
        running.Complete("first done");
        await runner.Runner.IdleAsync();
        Assert.Equal(ExecutionStatus.Success, Execution(first).Status);

        // Once it has finished, the target runs again (resuming the pinned session).
        var third = Assert.Single(await runner.Runner.TriggerAsync("sch_1", CancellationToken.None));
        var again = await _sessions.NextStartedAsync(Patience);
        Assert.Equal(("session-1", false), (again.SessionId, again.Spawned));
        again.Complete("third done");
        await runner.Runner.IdleAsync();
        Assert.Equal(ExecutionStatus.Success, Execution(third).Status);
    }

    [Fact]
    public async Task Overlap_queue_runs_one_waiting_run_after_the_running_one_and_skips_more()
    {
        _store.Put(NewSchedule("sch_1", "0 0 * * *", null, OverlapBehavior.Queue));
        var runner = await StartRunnerAsync();
        var first = Assert.Single(await runner.Runner.TriggerAsync("sch_1", CancellationToken.None));
        var running = await _sessions.NextStartedAsync(Patience);
        _time.Advance(TimeSpan.FromSeconds(30));

        var queued = Assert.Single(await runner.Runner.TriggerAsync("sch_1", CancellationToken.None));
        var third = Assert.Single(await runner.Runner.TriggerAsync("sch_1", CancellationToken.None));

        Assert.Equal((ExecutionStatus.Running, null), (Execution(queued).Status, Execution(queued).StartedAt));
        Assert.Equal((ExecutionStatus.Skipped, ScheduleRunner.OverlapReason), (Execution(third).Status, Execution(third).Reason));
        Assert.Single(_sessions.Turns);

        _time.Advance(TimeSpan.FromSeconds(30));
        running.Complete("first done");
        var next = await _sessions.NextStartedAsync(Patience);
        // It runs after the first, in the session the first pinned.
        Assert.Equal(("session-1", false), (next.SessionId, next.Spawned));
        Assert.Equal(ExecutionStatus.Success, Execution(first).Status);
        next.Complete("queued done");
        await _store.WaitForAsync(all => all.Single(execution => execution.Id == queued).Status == ExecutionStatus.Success, Patience);
        Assert.Equal((Start.AddSeconds(60), "queued done"), (Execution(queued).StartedAt, Execution(queued).OutputExcerpt));
    }

    [Fact]
    public async Task Overlap_parallel_runs_both()
    {
        _store.Put(NewSchedule("sch_1", "0 0 * * *", null, OverlapBehavior.Parallel));
        var runner = await StartRunnerAsync();
        await runner.Runner.TriggerAsync("sch_1", CancellationToken.None);
        var first = await _sessions.NextStartedAsync(Patience);

        await runner.Runner.TriggerAsync("sch_1", CancellationToken.None);
        var second = await _sessions.NextStartedAsync(Patience);

        // The pinned session is busy with the first run: the second gets a session of its own, and is pinned from then on.
        Assert.Equal(("session-1", "session-2", true), (first.SessionId, second.SessionId, second.Spawned));
        Assert.Equal(2, (await _store.WaitForAsync(all => all.Count(execution => execution.SessionId is not null) == 2, Patience)).Count(execution => execution.Status == ExecutionStatus.Running));
        first.Complete("one");
        second.Complete("two");
        await runner.Runner.IdleAsync();
        Assert.All(_store.Executions, execution => Assert.Equal(ExecutionStatus.Success, execution.Status));
        Assert.Equal("session-2", _store.Schedule("sch_1").Targets[0].PinnedSessionId);
    }

    public static TheoryData<string, string> Refusals => new()
    {
        { "revoked", "creator token tok_creator was revoked" },
        { "expired", "creator token tok_creator expired at 2026-06-01T12:00:05.0000000+00:00" },
        { "other_project", $"creator token tok_creator (scope 'project:{ProjectB:D}') may not write project {ProjectA:D}" },
        { "read_only", $"creator token tok_creator (scope 'project:{ProjectA:D}:ro') may not write project {ProjectA:D}" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_creator_that_lost_its_rights_disables_the_schedule_at_the_next_run_and_spawns_nothing(string change, string reason)
    {
        _store.Put(NewSchedule("sch_1", "*/10 * * * * *", Start.AddSeconds(10)));
        var runner = await StartRunnerAsync();
        Assert.Equal(Start.AddSeconds(10), await runner.NextSleepAsync());
        switch (change)
        {
            case "revoked":
                _tokens.Revoke(Creator);
                break;
            case "expired":
                _tokens.Add(Creator, TokenScope.Admin, Start.AddSeconds(5));
                break;
            case "other_project":
                _tokens.Add(Creator, TokenScope.Project(ProjectB));
                break;
            default:
                _tokens.Add(Creator, TokenScope.Project(ProjectA, readOnly: true));
                break;
        }

        _time.Advance(TimeSpan.FromSeconds(10));

        // Disabled: nothing left to wait for, so the loop sleeps its longest.
        Assert.Equal(Start.AddSeconds(10).AddHours(24), await runner.NextSleepAsync());
        var execution = Assert.Single(_store.Executions);
        Assert.Equal((ExecutionStatus.Disabled, reason, null), (execution.Status, execution.Reason, execution.SessionId));
        var schedule = _store.Schedule("sch_1");
        Assert.Equal((false, null, reason), (schedule.Enabled, schedule.NextRunAt, schedule.DisabledReason));
        Assert.Empty(_sessions.Turns);
        Assert.Equal(1, _metrics.ScheduleRuns.WithLabels("disabled").Value);
    }

    [Fact]
    public async Task A_creator_that_may_write_the_project_runs_it()
    {
        _sessions.CompleteAtOnce = true;
        _tokens.Add(Creator, TokenScope.Project(ProjectA));
        _store.Put(NewSchedule("sch_1", "0 0 * * *", null));
        var runner = await StartRunnerAsync();

        await runner.Runner.TriggerAsync("sch_1", CancellationToken.None);
        await runner.Runner.IdleAsync();

        Assert.Equal(ExecutionStatus.Success, Assert.Single(_store.Executions).Status);
    }

    [Fact]
    public async Task Resume_messages_the_pinned_session_and_re_pins_when_it_is_no_longer_usable()
    {
        _sessions.CompleteAtOnce = true;
        _store.Put(NewSchedule("sch_1", "0 0 * * *", null, session: SessionBehavior.Resume));
        var runner = await StartRunnerAsync();

        await TriggerAndWaitAsync(runner);
        await TriggerAndWaitAsync(runner);
        _sessions.End("session-1");
        await TriggerAndWaitAsync(runner);

        Assert.Equal([("session-1", true), ("session-1", false), ("session-2", true)], _sessions.Turns.Select(turn => (turn.SessionId, turn.Spawned)));
        Assert.Equal(["session-1", "session-1", "session-2"], _store.Executions.Select(execution => execution.SessionId));
        Assert.Equal("session-2", _store.Schedule("sch_1").Targets[0].PinnedSessionId);
    }

    [Fact]
    public async Task New_spawns_a_session_every_run()
    {
        _sessions.CompleteAtOnce = true;
        _store.Put(NewSchedule("sch_1", "0 0 * * *", null, session: SessionBehavior.New, model: "deep", autonomy: "high", reasoning: "low"));
        var runner = await StartRunnerAsync();

        await TriggerAndWaitAsync(runner);
        await TriggerAndWaitAsync(runner);

        Assert.Equal([("session-1", true), ("session-2", true)], _sessions.Turns.Select(turn => (turn.SessionId, turn.Spawned)));
        Assert.All(_sessions.Turns, turn => Assert.Equal(new ScheduledSpawn(ProjectA, null, "do the thing", "deep", "high", "low"), turn.Spawn));
        Assert.Equal("session-2", _store.Schedule("sch_1").Targets[0].PinnedSessionId);
    }

    [Fact]
    public async Task A_schedule_changed_to_an_earlier_due_time_runs_then_not_at_the_earlier_computed_wake()
    {
        _sessions.CompleteAtOnce = true;
        _store.Put(NewSchedule("sch_late", "0 * * * *", Start.AddHours(1)));
        var runner = await StartRunnerAsync();
        Assert.Equal(Start.AddHours(1), await runner.NextSleepAsync());

        _store.Put(NewSchedule("sch_soon", "*/10 * * * * *", Start.AddSeconds(10)));
        runner.Runner.Wake();

        Assert.Equal(Start.AddSeconds(10), await runner.NextSleepAsync());
        _time.Advance(TimeSpan.FromSeconds(10));
        var execution = Assert.Single(await _store.WaitForAsync(all => all is [{ Status: ExecutionStatus.Success }], Patience));
        Assert.Equal(("sch_soon", Start.AddSeconds(10)), (execution.ScheduleId, execution.StartedAt));
    }

    [Fact]
    public async Task A_trigger_returns_at_once_with_running_executions_one_per_target()
    {
        _store.Put(NewSchedule("sch_1", "0 0 * * *", null, targets: [new ScheduleTarget(ProjectA, null), new ScheduleTarget(ProjectB, Guid.NewGuid())]));
        var runner = await StartRunnerAsync();

        var ids = await runner.Runner.TriggerAsync("sch_1", CancellationToken.None);

        Assert.Equal(2, ids.Count);
        Assert.Equal([ProjectA, ProjectB], ids.Select(id => Execution(id).ProjectId));
        Assert.All(ids, id => Assert.Equal((ScheduleRunner.ManualTrigger, Start), (Execution(id).Trigger, Execution(id).DueAt)));
        var first = await _sessions.NextStartedAsync(Patience);
        var second = await _sessions.NextStartedAsync(Patience);
        Assert.All(ids, id => Assert.Equal(ExecutionStatus.Running, Execution(id).Status));
        first.Fail("the model refused");
        second.Complete("fine");
        await runner.Runner.IdleAsync();
        Assert.Equal(1, _metrics.ScheduleRuns.WithLabels("failed").Value);
        Assert.Equal(1, _metrics.ScheduleRuns.WithLabels("success").Value);
        Assert.Contains(_store.Executions, execution => execution is { Status: ExecutionStatus.Failed, Error: "the model refused" });
    }

    [Fact]
    public async Task A_trigger_of_an_unknown_schedule_is_not_found()
    {
        var runner = await StartRunnerAsync();

        var exception = await Assert.ThrowsAsync<NotFoundException>(() => runner.Runner.TriggerAsync("sch_nope", CancellationToken.None));

        Assert.Equal("schedule_id 'sch_nope' not found", exception.Message);
        Assert.Empty(_store.Executions);
    }

    [Fact]
    public async Task A_refused_spawn_fails_the_run_with_its_message_and_the_schedule_goes_on()
    {
        _sessions.SpawnError = new LimitReachedException("project 11111111-1111-1111-1111-111111111111 already has 10 active sessions");
        _store.Put(NewSchedule("sch_1", "*/10 * * * * *", Start.AddSeconds(10)));
        var runner = await StartRunnerAsync();
        await runner.NextSleepAsync();

        _time.Advance(TimeSpan.FromSeconds(10));

        var execution = Assert.Single(await _store.WaitForAsync(all => all is [{ Status: ExecutionStatus.Failed }], Patience));
        Assert.Equal("project 11111111-1111-1111-1111-111111111111 already has 10 active sessions", execution.Error);
        Assert.Equal((true, Start.AddSeconds(20)), (_store.Schedule("sch_1").Enabled, _store.Schedule("sch_1").NextRunAt));
    }

    [Fact]
    public async Task At_start_executions_left_running_by_the_last_stop_become_interrupted()
    {
        var left = new ScheduleExecution("exe_left", "sch_1", ProjectA, null, ScheduleRunner.CronTrigger, Start.AddMinutes(-2), ExecutionStatus.Running, null, "session-9", null, null,
            0, 0, 0, Start.AddMinutes(-2), null);
        await _store.AddExecutionAsync(left, CancellationToken.None);

        await StartRunnerAsync();

        var execution = Assert.Single(_store.Executions);
        Assert.Equal((ExecutionStatus.Interrupted, ScheduleRunner.InterruptedError, Start, "session-9"),
            (execution.Status, execution.Error, execution.FinishedAt, execution.SessionId));
        Assert.Equal(1, _metrics.ScheduleRuns.WithLabels("interrupted").Value);
    }

    [Fact]
    public async Task A_graceful_stop_records_runs_in_flight_as_interrupted()
    {
        _store.Put(NewSchedule("sch_1", "0 0 * * *", null));
        var runner = await StartRunnerAsync();
        var id = Assert.Single(await runner.Runner.TriggerAsync("sch_1", CancellationToken.None));
        await _sessions.NextStartedAsync(Patience);
        await _store.WaitForAsync(all => all is [{ SessionId: not null }], Patience);

        await runner.Runner.StopAsync(CancellationToken.None);

        Assert.Equal((ExecutionStatus.Interrupted, "session-1"), (Execution(id).Status, Execution(id).SessionId));
        Assert.Equal(0, runner.Runner.InFlightCount);
    }

    [Fact]
    public async Task Executions_past_the_configured_count_are_pruned()
    {
        _sessions.CompleteAtOnce = true;
        _store.Put(NewSchedule("sch_1", "0 0 * * *", null));
        var runner = await StartRunnerAsync(new SchedulesConfig(KeepExecutions: 2, MissedGraceSeconds: 60));

        var ids = new List<string>();
        for (var run = 0; run < 3; run++)
        {
            ids.AddRange(await TriggerAndWaitAsync(runner));
        }

        Assert.Equal(ids[1..], _store.Executions.Select(execution => execution.Id));
    }

    private ScheduleExecution Execution(string id) => _store.Executions.Single(execution => execution.Id == id);

    private static async Task<IReadOnlyList<string>> TriggerAndWaitAsync(RunnerUnderTest runner)
    {
        var ids = await runner.Runner.TriggerAsync("sch_1", CancellationToken.None);
        await runner.Runner.IdleAsync();
        return ids;
    }

    private async Task<RunnerUnderTest> StartRunnerAsync(SchedulesConfig? options = null)
    {
        var runner = new RunnerUnderTest(new ScheduleRunner(_store, _sessions, _tokens, options ?? SchedulesConfig.Default, _metrics, _time, NullLogger<ScheduleRunner>.Instance));
        _runners.Add(runner);
        await runner.Runner.StartAsync(CancellationToken.None);
        return runner;
    }

    private static Schedule NewSchedule(string id, string cron, DateTimeOffset? next, OverlapBehavior overlap = OverlapBehavior.Skip, SessionBehavior session = SessionBehavior.Resume,
        IReadOnlyList<ScheduleTarget>? targets = null, string? model = null, string? autonomy = null, string? reasoning = null) =>
        new(id, id, cron, null, "do the thing", targets ?? [new ScheduleTarget(ProjectA, null)], true, overlap, session, model, autonomy, reasoning, Creator, Start, Start, next, null);

    private sealed class RunnerUnderTest
    {
        private readonly Channel<DateTimeOffset> _sleeps = Channel.CreateUnbounded<DateTimeOffset>();

        public RunnerUnderTest(ScheduleRunner runner)
        {
            Runner = runner;
            runner.Sleeping += until => _sleeps.Writer.TryWrite(until);
        }

        public ScheduleRunner Runner { get; }

        /// <summary>The time the loop next went to sleep until (waits for it to go to sleep).</summary>
        public async Task<DateTimeOffset> NextSleepAsync()
        {
            using var deadline = new CancellationTokenSource(Patience);
            return await _sleeps.Reader.ReadAsync(deadline.Token);
        }
    }
}
