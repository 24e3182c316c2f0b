using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Operations;
using Oubliette.Schedules;
using Oubliette.Testing;
using Prometheus;

namespace Oubliette.Bench;

/// <summary>
/// The schedule runner on the real clock over the in-memory store and fake sessions: its own lag (due time → spawn
/// called) over runs of a per-second schedule, and its cost while 100 enabled schedules wait for a far due time.
/// The session spawn itself (container, agent) is not in these figures.
/// </summary>
internal static class ScheduleBench
{
    public static async Task RunAsync(int runs)
    {
        var tokens = new FakeScheduleTokens();
        tokens.Add("tok_bench", TokenScope.Admin);
        var store = new InMemoryScheduleRunStore();
        var sessions = new FakeScheduledSessions { CompleteAtOnce = true };
        var now = TimeProvider.System.GetUtcNow();
        for (var index = 0; index < 100; index++)
        {
            store.Put(Schedule($"sch_idle_{index}", "0 0 1 1 *", CronSchedule.Parse("0 0 1 1 *", null).NextAfter(now)));
        }

        using var runner = new ScheduleRunner(store, sessions, tokens, SchedulesConfig.Default, new OublietteMetrics(Metrics.NewCustomRegistry()), TimeProvider.System,
            NullLogger<ScheduleRunner>.Instance);
        var sleeps = 0;
        runner.Sleeping += _ => Interlocked.Increment(ref sleeps);
        await runner.StartAsync(CancellationToken.None);

        // Idle: 100 enabled schedules, the nearest due next New Year. CPU of this process and loop wake-ups over 10 s.
        await Task.Delay(TimeSpan.FromSeconds(1));
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpuBefore = process.TotalProcessorTime;
        var sleepsBefore = Volatile.Read(ref sleeps);
        await Task.Delay(TimeSpan.FromSeconds(10));
        process.Refresh();
        Console.WriteLine($"schedule runner idle with 100 enabled schedules: {(process.TotalProcessorTime - cpuBefore).TotalMilliseconds:0} ms CPU in 10 s (whole bench process), {Volatile.Read(ref sleeps) - sleepsBefore} loop wake-ups");

        // Lag: a per-second schedule, due time → spawn called.
        store.Put(Schedule("sch_every_second", "* * * * * *", CronSchedule.Parse("* * * * * *", null).NextAfter(TimeProvider.System.GetUtcNow())));
        runner.Wake();
        await store.WaitForAsync(all => all.Count(execution => execution.ScheduleId == "sch_every_second" && execution.Status == ExecutionStatus.Success) >= runs + 1,
            TimeSpan.FromSeconds(runs + 30));
        await runner.StopAsync(CancellationToken.None);
        var all = sessions.Turns.Take(runs + 1)
            .Select(turn => (turn.StartedAt - store.Executions.Single(execution => execution.SessionId == turn.SessionId).DueAt).TotalMilliseconds)
            .ToList();
        // The first run is cold (its code paths are compiled on the way); the figures are the runs after it.
        var lags = all.Skip(1).ToList();
        var sorted = lags.Order().ToArray();
        Console.WriteLine($"  lags in run order (first one cold), ms: {string.Join(" ", all.Select(lag => lag.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)))}");
        Console.WriteLine($"schedule runner lag, due time -> spawn, {lags.Count} runs: median {Statistics.Median(lags):0.00} ms, p99 {sorted[(int)Math.Ceiling(0.99 * sorted.Length) - 1]:0.00} ms, max {sorted[^1]:0.00} ms");
    }

    private static Schedule Schedule(string id, string cron, DateTimeOffset? next) =>
        new(id, id, cron, null, "bench", [new ScheduleTarget(Guid.NewGuid(), null)], true, OverlapBehavior.Parallel, SessionBehavior.New, null, null, null, "tok_bench",
            DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, next, null);
}
