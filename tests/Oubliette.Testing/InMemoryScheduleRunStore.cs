using Oubliette.Schedules;

namespace Oubliette.Testing;

/// <summary>
/// <see cref="IScheduleRunStore"/> in memory, honouring the contract (one lock per call as one transaction; claims
/// compare-and-set). Tests seed schedules with <see cref="Put"/> and wait for executions with <see cref="WaitForAsync"/>.
/// </summary>
public sealed class InMemoryScheduleRunStore : IScheduleRunStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Schedule> _schedules = new(StringComparer.Ordinal);
    private readonly List<ScheduleExecution> _executions = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Successful claims, in order: (schedule, due time claimed, next due time set).</summary>
    public List<(string ScheduleId, DateTimeOffset Due, DateTimeOffset? Next)> Claims { get; } = [];

    /// <summary>Adds or replaces a schedule (as the schedule tool would store it).</summary>
    public void Put(Schedule schedule)
    {
        lock (_gate)
        {
            _schedules[schedule.Id] = schedule;
            Signal();
        }
    }

    public Schedule Schedule(string scheduleId)
    {
        lock (_gate)
        {
            return _schedules[scheduleId];
        }
    }

    /// <summary>Every stored execution, oldest first.</summary>
    public IReadOnlyList<ScheduleExecution> Executions
    {
        get
        {
            lock (_gate)
            {
                return [.. _executions];
            }
        }
    }

    /// <summary>Completes when <paramref name="condition"/> holds for the executions (checked at every change), or throws after <paramref name="timeout"/>.</summary>
    public async Task<IReadOnlyList<ScheduleExecution>> WaitForAsync(Func<IReadOnlyList<ScheduleExecution>, bool> condition, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            Task changed;
            IReadOnlyList<ScheduleExecution> snapshot;
            lock (_gate)
            {
                changed = _changed.Task;
                snapshot = [.. _executions];
            }

            if (condition(snapshot))
            {
                return snapshot;
            }

            try
            {
                await changed.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the executions did not reach the expected state within {timeout}: {string.Join("; ", snapshot.Select(Describe))}");
            }
        }
    }

    public Task<IReadOnlyList<Schedule>> DueOrderAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            IReadOnlyList<Schedule> due = [.. _schedules.Values.Where(schedule => schedule.Enabled && schedule.NextRunAt is not null).OrderBy(schedule => schedule.NextRunAt)];
            return Task.FromResult(due);
        }
    }

    public Task<Schedule?> GetAsync(string scheduleId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_schedules.GetValueOrDefault(scheduleId));
        }
    }

    public Task<bool> ClaimAsync(string scheduleId, DateTimeOffset expectedDue, DateTimeOffset? nextDue, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_schedules.TryGetValue(scheduleId, out var schedule) || schedule.NextRunAt != expectedDue)
            {
                return Task.FromResult(false);
            }

            _schedules[scheduleId] = schedule with { NextRunAt = nextDue };
            Claims.Add((scheduleId, expectedDue, nextDue));
            Signal();
            return Task.FromResult(true);
        }
    }

    public Task AddExecutionAsync(ScheduleExecution execution, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_executions.Any(existing => existing.Id == execution.Id))
            {
                throw new InvalidOperationException($"execution {execution.Id} exists already");
            }

            _executions.Add(execution);
            Signal();
            return Task.CompletedTask;
        }
    }

    public Task UpdateExecutionAsync(ScheduleExecution execution, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var index = _executions.FindIndex(existing => existing.Id == execution.Id);
            if (index >= 0)
            {
                // As an UPDATE of a pruned (or deleted) row would: nothing happens.
                _executions[index] = execution;
                Signal();
            }

            return Task.CompletedTask;
        }
    }

    public Task<IReadOnlyList<ScheduleExecution>> RunningExecutionsAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            IReadOnlyList<ScheduleExecution> running = [.. _executions.Where(execution => execution.Status == ExecutionStatus.Running)];
            return Task.FromResult(running);
        }
    }

    public Task PinAsync(string scheduleId, Guid projectId, Guid? workspaceId, string sessionId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_schedules.TryGetValue(scheduleId, out var schedule))
            {
                _schedules[scheduleId] = schedule with
                {
                    Targets = [.. schedule.Targets.Select(target => target.ProjectId == projectId && target.WorkspaceId == workspaceId ? target with { PinnedSessionId = sessionId } : target)],
                };
                Signal();
            }

            return Task.CompletedTask;
        }
    }

    public Task DisableAsync(string scheduleId, string reason, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_schedules.TryGetValue(scheduleId, out var schedule))
            {
                _schedules[scheduleId] = schedule with { Enabled = false, NextRunAt = null, DisabledReason = reason };
                Signal();
            }

            return Task.CompletedTask;
        }
    }

    public Task PruneExecutionsAsync(string scheduleId, int keep, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var ofSchedule = _executions.Where(execution => execution.ScheduleId == scheduleId).ToList();
            foreach (var old in ofSchedule.Take(Math.Max(0, ofSchedule.Count - keep)))
            {
                _executions.Remove(old);
            }

            Signal();
            return Task.CompletedTask;
        }
    }

    private static string Describe(ScheduleExecution execution) =>
        $"{execution.Id} {execution.Trigger} {execution.Status} {execution.Reason} due={execution.DueAt:O} session={execution.SessionId}";

    /// <summary>Call with the lock held.</summary>
    private void Signal()
    {
        var previous = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        previous.TrySetResult();
    }
}
