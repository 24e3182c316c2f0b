using System.Collections.Concurrent;
using Oubliette.Schedules;

namespace Oubliette.Testing;

/// <summary>
/// A stand-in for the schedule runner: counts <see cref="Wake"/> calls and, on a trigger, records one <c>running</c>
/// manual execution per target in the store (ids <c>exe_test_N</c>) and returns their ids, as the real runner does.
/// </summary>
public sealed class RecordingScheduleRunner(IScheduleRunStore store, TimeProvider time) : IScheduleRunner
{
    private int _wakes;
    private int _executions;

    public int Wakes => Volatile.Read(ref _wakes);

    public ConcurrentQueue<string> Triggered { get; } = new();

    public void Wake() => Interlocked.Increment(ref _wakes);

    public async Task<IReadOnlyList<string>> TriggerAsync(string scheduleId, CancellationToken cancellationToken)
    {
        Triggered.Enqueue(scheduleId);
        var schedule = await store.GetAsync(scheduleId, cancellationToken) ?? throw new InvalidOperationException($"no schedule {scheduleId}");
        var ids = new List<string>();
        var now = time.GetUtcNow();
        foreach (var target in schedule.Targets)
        {
            var id = $"exe_test_{Interlocked.Increment(ref _executions)}";
            await store.AddExecutionAsync(new ScheduleExecution(id, scheduleId, target.ProjectId, target.WorkspaceId, "manual", now, ExecutionStatus.Running,
                null, null, null, null, 0, 0, 0, now, null), cancellationToken);
            ids.Add(id);
        }

        return ids;
    }
}
