using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Threading.Channels;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Operations;

namespace Oubliette.Schedules;

/// <summary>
/// Runs schedules (SPEC §8). One loop sleeps until the earliest <c>next_run_at</c> of the enabled schedules (on the
/// <see cref="TimeProvider"/>; no polling), or until <see cref="Wake"/>. A due run is first claimed in the store (its
/// <c>next_run_at</c> moved to the next due time after now, compare-and-set), so one due time runs at most once, also with
/// two servers on one database or across a restart; then each target runs in the background:
/// <list type="bullet">
/// <item>a due time found more than <c>schedules.missed_grace_seconds</c> late, or with a later due time also passed, was
/// missed while the server was down: one <c>skipped</c> execution (reason <c>missed</c>) per target, nothing runs;</item>
/// <item>the creator token is looked up at every run: revoked, expired or no longer allowed to write a target's project
/// disables the schedule, with one <c>disabled</c> execution per target giving the reason, and spawns nothing;</item>
/// <item>overlap per target: <c>skip</c> records <c>skipped</c> (reason <c>overlap</c>) while a run of that target is
/// running, <c>queue</c> runs after it (at most one waiting; a further one is skipped), <c>parallel</c> runs beside it;</item>
/// <item><c>resume</c> messages the target's pinned session when it is idle and not ended, else spawns a new session and pins
/// it; <c>new</c> always spawns (and pins); the execution ends when the agent's turn does.</item>
/// </list>
/// At start-up every execution still <c>running</c> in the store becomes <c>interrupted</c> (the server stopped without a
/// chance to say so); at a graceful stop the runs in flight stop waiting and are recorded <c>interrupted</c> at once. Their
/// sessions are left alone: session recovery reattaches them as any other.
/// </summary>
public sealed partial class ScheduleRunner : BackgroundService, IScheduleRunner
{
    /// <summary>Longest single sleep: a far due time (or none) is looked at again once a day, which costs nothing.</summary>
    private static readonly TimeSpan LongestSleep = TimeSpan.FromHours(24);

    /// <summary>After an unexpected failure of the loop (say the database is locked), how long before it tries again.</summary>
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(5);

    public const string CronTrigger = "cron";
    public const string ManualTrigger = "manual";
    public const string OverlapReason = "overlap";
    public const string MissedReason = "missed";
    public const string InterruptedError = "the server stopped while this run was in flight; its session is reattached by session recovery";

    private readonly IScheduleRunStore _store;
    private readonly IScheduledSessions _sessions;
    private readonly IScheduleTokens _tokens;
    private readonly SchedulesConfig _options;
    private readonly OublietteMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ScheduleRunner> _logger;

    // One pending wake is enough: the loop re-reads every schedule when it wakes.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _runsStopping = new();
    private readonly ConcurrentDictionary<string, Task> _inFlight = new(StringComparer.Ordinal);
    private readonly Lock _gatesLock = new();
    private readonly Dictionary<TargetKey, TargetGate> _gates = [];

    public ScheduleRunner(IScheduleRunStore store, IScheduledSessions sessions, IScheduleTokens tokens, SchedulesConfig options, OublietteMetrics metrics,
        TimeProvider time, ILogger<ScheduleRunner> logger)
    {
        _store = store;
        _sessions = sessions;
        _tokens = tokens;
        _options = options;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    /// <summary>Runs started by this runner that have not finished yet (for tests and shutdown).</summary>
    internal int InFlightCount => _inFlight.Count;

    /// <summary>Completes when every run in flight now has finished (tests; shutdown waits the same way).</summary>
    internal Task IdleAsync() => Task.WhenAll(_inFlight.Values);

    /// <summary>Raised when the loop goes to sleep (its timer set), with the time it will wake at unless woken (tests sync on it).</summary>
    internal event Action<DateTimeOffset>? Sleeping;

    public void Wake() => _wake.Writer.TryWrite(true);

    public async Task<IReadOnlyList<string>> TriggerAsync(string scheduleId, CancellationToken cancellationToken)
    {
        var schedule = await _store.GetAsync(scheduleId, cancellationToken)
            ?? throw new NotFoundException($"schedule_id '{scheduleId}' not found");
        return await StartRunAsync(schedule, ManualTrigger, _time.GetUtcNow(), cancellationToken);
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await MarkInterruptedAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The executions stay "running" in the history; that must not keep the server (or the schedules) from running.
            LogInterruptedMarkFailed(_logger, exception);
        }

        await base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Runs in flight stop waiting for their turns and record themselves interrupted; their sessions go on.
        await _runsStopping.CancelAsync();
        await base.StopAsync(cancellationToken);
        try
        {
            await IdleAsync().WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown time is up: what is still running is marked interrupted at the next start.
        }
    }

    public override void Dispose()
    {
        _runsStopping.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            // A wake that arrives from here on is kept for the sleep below: no change is missed between read and sleep.
            _wake.Reader.TryRead(out _);
            TimeSpan sleep;
            try
            {
                sleep = await RunDueAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                LogLoopFailed(_logger, exception);
                sleep = RetryAfterFailure;
            }

            await SleepAsync(sleep, stoppingToken);
        }
    }

    /// <summary>Starts what is due; returns how long until the next due time (zero: look again at once).</summary>
    private async Task<TimeSpan> RunDueAsync(CancellationToken cancellationToken)
    {
        var schedules = await _store.DueOrderAsync(cancellationToken);
        var now = _time.GetUtcNow();
        var handled = false;
        foreach (var schedule in schedules)
        {
            if (schedule.NextRunAt is not { } due)
            {
                continue;
            }

            if (due > now)
            {
                // Earliest first: a claim above moved its schedule's next due time, which may now come before this one.
                return handled ? TimeSpan.Zero : Min(due - now, LongestSleep);
            }

            await HandleDueAsync(schedule, due, now, cancellationToken);
            handled = true;
        }

        return handled ? TimeSpan.Zero : LongestSleep;
    }

    private async Task HandleDueAsync(Schedule schedule, DateTimeOffset due, DateTimeOffset now, CancellationToken cancellationToken)
    {
        DateTimeOffset? next;
        DateTimeOffset? afterDue;
        try
        {
            var cron = CronSchedule.Parse(schedule.CronExpr, schedule.TimeZone);
            next = cron.NextAfter(now);
            afterDue = cron.NextAfter(due);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // Validated when stored; a time zone can still vanish from the system's database. Disabling this one schedule
            // stops a hot loop and keeps every other schedule running.
            await _store.DisableAsync(schedule.Id, exception.Message, cancellationToken);
            LogScheduleDisabled(_logger, schedule.Id, exception.Message);
            return;
        }

        if (!await _store.ClaimAsync(schedule.Id, due, next, cancellationToken))
        {
            // Another runner (or an update of the schedule) got there first.
            return;
        }

        var late = now - due;
        if (late > TimeSpan.FromSeconds(_options.MissedGraceSeconds) || afterDue <= now)
        {
            await RecordMissedAsync(schedule, due, now, cancellationToken);
            return;
        }

        await StartRunAsync(schedule, CronTrigger, due, cancellationToken);
    }

    private async Task RecordMissedAsync(Schedule schedule, DateTimeOffset due, DateTimeOffset now, CancellationToken cancellationToken)
    {
        LogMissed(_logger, schedule.Id, due);
        foreach (var target in schedule.Targets)
        {
            await _store.AddExecutionAsync(NewExecution(schedule, target, CronTrigger, due, ExecutionStatus.Skipped, MissedReason, null, now), cancellationToken);
            Count(ExecutionStatus.Skipped);
        }

        await _store.PruneExecutionsAsync(schedule.Id, _options.KeepExecutions, cancellationToken);
    }

    /// <summary>Checks the creator's rights, then starts (or skips, or queues) one run per target; returns their execution ids.</summary>
    private async Task<IReadOnlyList<string>> StartRunAsync(Schedule schedule, string trigger, DateTimeOffset due, CancellationToken cancellationToken)
    {
        var ids = new List<string>(schedule.Targets.Count);
        var refusal = await CreatorRefusalAsync(schedule, cancellationToken);
        var now = _time.GetUtcNow();
        if (refusal is not null)
        {
            foreach (var target in schedule.Targets)
            {
                var disabled = NewExecution(schedule, target, trigger, due, ExecutionStatus.Disabled, refusal, null, now);
                await _store.AddExecutionAsync(disabled, cancellationToken);
                ids.Add(disabled.Id);
                Count(ExecutionStatus.Disabled);
            }

            await _store.DisableAsync(schedule.Id, refusal, cancellationToken);
            await _store.PruneExecutionsAsync(schedule.Id, _options.KeepExecutions, cancellationToken);
            LogScheduleDisabled(_logger, schedule.Id, refusal);
            return ids;
        }

        var skipped = false;
        foreach (var target in schedule.Targets)
        {
            var key = new TargetKey(schedule.Id, target.ProjectId, target.WorkspaceId);
            var admission = Admit(key, schedule.OverlapBehavior);
            if (admission is null)
            {
                var skip = NewExecution(schedule, target, trigger, due, ExecutionStatus.Skipped, OverlapReason, null, now);
                await _store.AddExecutionAsync(skip, cancellationToken);
                ids.Add(skip.Id);
                Count(ExecutionStatus.Skipped);
                skipped = true;
                continue;
            }

            // A queued run shows as running with no start time until the run before it has finished.
            var execution = NewExecution(schedule, target, trigger, due, ExecutionStatus.Running, null, admission.Waiting is null ? now : null, null);
            try
            {
                await _store.AddExecutionAsync(execution, cancellationToken);
            }
            catch
            {
                Abandon(key, admission);
                throw;
            }

            ids.Add(execution.Id);
            Track(execution.Id, RunTargetAsync(schedule, target, execution, key, admission));
        }

        if (skipped)
        {
            await _store.PruneExecutionsAsync(schedule.Id, _options.KeepExecutions, cancellationToken);
        }

        return ids;
    }

    /// <summary>Why the creator token may not run this schedule now, or null when it may.</summary>
    private async Task<string?> CreatorRefusalAsync(Schedule schedule, CancellationToken cancellationToken)
    {
        var token = await _tokens.FindAsync(schedule.CreatorTokenId, cancellationToken);
        if (token is null)
        {
            return $"creator token {schedule.CreatorTokenId} was revoked";
        }

        if (token.IsExpired(_time.GetUtcNow()))
        {
            return $"creator token {schedule.CreatorTokenId} expired at {token.ExpiresAt:O}";
        }

        foreach (var target in schedule.Targets)
        {
            if (!PermissionPolicy.Allows(token.Scope, PermissionClass.ProjectWrite, target.ProjectId))
            {
                return $"creator token {schedule.CreatorTokenId} (scope '{token.Scope}') may not write project {target.ProjectId:D}";
            }
        }

        return null;
    }

    private void Track(string executionId, Task run)
    {
        _inFlight[executionId] = run;
        // Runs on the spot when the run has already finished, so nothing stale stays behind.
        _ = run.ContinueWith(_ => _inFlight.TryRemove(executionId, out Task? _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task RunTargetAsync(Schedule schedule, ScheduleTarget target, ScheduleExecution execution, TargetKey key, Admission admission)
    {
        var stopping = _runsStopping.Token;
        var holding = admission.Waiting is null;
        // Off the caller's path: a trigger returns its ids at once, the loop goes back to sleep.
        await Task.Yield();
        try
        {
            if (admission.Waiting is { } waiting)
            {
                await waiting.WaitAsync(stopping);
                holding = true;
                // The creator's rights again: a run may wait in the queue for hours, and a token revoked meanwhile runs nothing.
                if (await CreatorRefusalAsync(await _store.GetAsync(schedule.Id, stopping) ?? schedule, stopping) is { } refusal)
                {
                    await FinishAsync(execution with { Status = ExecutionStatus.Disabled, Reason = refusal, FinishedAt = _time.GetUtcNow() });
                    await _store.DisableAsync(schedule.Id, refusal, stopping);
                    LogScheduleDisabled(_logger, schedule.Id, refusal);
                    return;
                }

                execution = execution with { StartedAt = _time.GetUtcNow() };
                await _store.UpdateExecutionAsync(execution, stopping);
            }

            if (execution.Trigger == CronTrigger && execution.StartedAt is { } started)
            {
                _metrics.ScheduleLag.Observe(Math.Max(0, (started - execution.DueAt).TotalSeconds));
            }

            ScheduledTurn turn;
            try
            {
                turn = await StartTurnAsync(schedule, target, stopping);
            }
            catch (Exception exception) when (exception is not OperationCanceledException || !stopping.IsCancellationRequested)
            {
                // Limits, budgets, a project or workspace gone, the agent unreachable: the run failed, the schedule goes on.
                if (exception is not OublietteException)
                {
                    LogRunFailed(_logger, schedule.Id, execution.Id, exception);
                }

                await FinishAsync(execution with { Status = ExecutionStatus.Failed, Error = exception.Message, FinishedAt = _time.GetUtcNow() });
                return;
            }

            execution = execution with { SessionId = turn.SessionId };
            await _store.UpdateExecutionAsync(execution, stopping);
            var outcome = await _sessions.WaitTurnAsync(turn, stopping);
            await FinishAsync(execution with
            {
                Status = outcome.Succeeded ? ExecutionStatus.Success : ExecutionStatus.Failed,
                OutputExcerpt = outcome.OutputExcerpt,
                Error = outcome.Error,
                TokensIn = outcome.TokensIn,
                TokensOut = outcome.TokensOut,
                CostUsd = outcome.CostUsd,
                FinishedAt = _time.GetUtcNow(),
            });
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            try
            {
                await FinishAsync(execution with { Status = ExecutionStatus.Interrupted, Error = InterruptedError, FinishedAt = _time.GetUtcNow() });
            }
            catch (Exception exception)
            {
                // Still running in the store: the next start marks it interrupted.
                LogRunFailed(_logger, schedule.Id, execution.Id, exception);
            }
        }
        catch (Exception exception)
        {
            // The store failed mid-run: say so in the log; the execution stays running and becomes interrupted at the next start.
            LogRunFailed(_logger, schedule.Id, execution.Id, exception);
        }
        finally
        {
            if (holding)
            {
                Release(key);
            }
            else
            {
                Abandon(key, admission);
            }
        }
    }

    /// <summary>Messages the pinned session when <c>resume</c> may, else spawns a new one and pins it.</summary>
    private async Task<ScheduledTurn> StartTurnAsync(Schedule schedule, ScheduleTarget target, CancellationToken cancellationToken)
    {
        // The freshest pin: a run queued behind another sees the session that one pinned.
        var current = await _store.GetAsync(schedule.Id, cancellationToken);
        var pinned = current?.Targets.FirstOrDefault(candidate => candidate.ProjectId == target.ProjectId && candidate.WorkspaceId == target.WorkspaceId)?.PinnedSessionId
            ?? target.PinnedSessionId;
        if (schedule.SessionBehavior == SessionBehavior.Resume && pinned is not null && _sessions.IsUsable(pinned))
        {
            return await _sessions.MessageAsync(pinned, schedule.Prompt, cancellationToken);
        }

        var turn = await _sessions.SpawnAsync(
            new ScheduledSpawn(target.ProjectId, target.WorkspaceId, schedule.Prompt, schedule.Model, schedule.Autonomy, schedule.Reasoning),
            schedule.CreatorTokenId, cancellationToken);
        await _store.PinAsync(schedule.Id, target.ProjectId, target.WorkspaceId, turn.SessionId, cancellationToken);
        return turn;
    }

    /// <summary>Records a finished execution; runs also at shutdown, so it does not take the stopping token.</summary>
    private async Task FinishAsync(ScheduleExecution execution)
    {
        await _store.UpdateExecutionAsync(execution, CancellationToken.None);
        Count(execution.Status);
        await _store.PruneExecutionsAsync(execution.ScheduleId, _options.KeepExecutions, CancellationToken.None);
    }

    private async Task MarkInterruptedAsync(CancellationToken cancellationToken)
    {
        foreach (var execution in await _store.RunningExecutionsAsync(cancellationToken))
        {
            if (_inFlight.ContainsKey(execution.Id))
            {
                continue;
            }

            await _store.UpdateExecutionAsync(
                execution with { Status = ExecutionStatus.Interrupted, Error = InterruptedError, FinishedAt = _time.GetUtcNow() }, cancellationToken);
            Count(ExecutionStatus.Interrupted);
        }
    }

    /// <summary>Admits a run of the target under the overlap rule: null to skip it; otherwise running now, or waiting its turn.</summary>
    private Admission? Admit(TargetKey key, OverlapBehavior overlap)
    {
        lock (_gatesLock)
        {
            if (!_gates.TryGetValue(key, out var gate))
            {
                gate = new TargetGate();
                _gates[key] = gate;
            }

            if (gate.Running == 0 || overlap == OverlapBehavior.Parallel)
            {
                gate.Running++;
                return new Admission(null);
            }

            if (overlap == OverlapBehavior.Queue && gate.Waiter is null)
            {
                gate.Waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return new Admission(gate.Waiter);
            }

            return null;
        }
    }

    /// <summary>A run of the target finished: the waiting one (if any) takes its place.</summary>
    private void Release(TargetKey key)
    {
        lock (_gatesLock)
        {
            var gate = _gates[key];
            gate.Running--;
            if (gate.Running > 0)
            {
                return;
            }

            if (gate.Waiter is { } waiter)
            {
                gate.Waiter = null;
                gate.Running++;
                waiter.TrySetResult();
            }
            else
            {
                _gates.Remove(key);
            }
        }
    }

    /// <summary>A run gives up its admission without having run (stopping, or its execution could not be stored).</summary>
    private void Abandon(TargetKey key, Admission admission)
    {
        if (admission.Waiting is null)
        {
            Release(key);
            return;
        }

        lock (_gatesLock)
        {
            var gate = _gates[key];
            if (ReferenceEquals(gate.Waiter, admission.WaitingSource))
            {
                gate.Waiter = null;
                return;
            }
        }

        // It was handed the slot just as it gave up: pass it on.
        Release(key);
    }

    private async Task SleepAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        if (delay <= TimeSpan.Zero || stoppingToken.IsCancellationRequested)
        {
            return;
        }

        using var sleeping = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var woken = _wake.Reader.WaitToReadAsync(sleeping.Token).AsTask();
        var elapsed = Task.Delay(delay, _time, sleeping.Token);
        Sleeping?.Invoke(_time.GetUtcNow() + delay);
        await Task.WhenAny(woken, elapsed);
        // The other wait (and its timer) goes now; neither throws into the loop.
        await sleeping.CancelAsync();
    }

    private static ScheduleExecution NewExecution(Schedule schedule, ScheduleTarget target, string trigger, DateTimeOffset due, ExecutionStatus status, string? reason,
        DateTimeOffset? startedAt, DateTimeOffset? finishedAt) =>
        new(NewExecutionId(), schedule.Id, target.ProjectId, target.WorkspaceId, trigger, due, status, reason, null, null, null, 0, 0, 0, startedAt, finishedAt);

    private static string NewExecutionId() => $"exe_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}";

    private void Count(ExecutionStatus status) => _metrics.ScheduleRuns.WithLabels(status.ToString().ToLowerInvariant()).Inc();

    private static TimeSpan Min(TimeSpan left, TimeSpan right) => left < right ? left : right;

    private readonly record struct TargetKey(string ScheduleId, Guid ProjectId, Guid? WorkspaceId);

    /// <summary>Runs of one target now running, and the one run waiting for them (queue).</summary>
    private sealed class TargetGate
    {
        public int Running { get; set; }
        public TaskCompletionSource? Waiter { get; set; }
    }

    /// <summary>Admitted: <see cref="Waiting"/> is null when the run may start now, else it completes when it may.</summary>
    private sealed record Admission(TaskCompletionSource? WaitingSource)
    {
        public Task? Waiting => WaitingSource?.Task;
    }

    [LoggerMessage(EventId = 160, Level = LogLevel.Error, Message = "the schedule runner's loop failed; it tries again shortly")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 161, Level = LogLevel.Warning, Message = "schedule {ScheduleId} disabled: {Reason}")]
    private static partial void LogScheduleDisabled(ILogger logger, string scheduleId, string reason);

    [LoggerMessage(EventId = 162, Level = LogLevel.Information, Message = "schedule {ScheduleId}: the run due at {Due:O} was missed while the server was down; recorded as skipped")]
    private static partial void LogMissed(ILogger logger, string scheduleId, DateTimeOffset due);

    [LoggerMessage(EventId = 163, Level = LogLevel.Error, Message = "schedule {ScheduleId}: execution {ExecutionId} failed unexpectedly")]
    private static partial void LogRunFailed(ILogger logger, string scheduleId, string executionId, Exception exception);

    [LoggerMessage(EventId = 164, Level = LogLevel.Error, Message = "could not mark the executions left running by the last stop as interrupted")]
    private static partial void LogInterruptedMarkFailed(ILogger logger, Exception exception);
}
