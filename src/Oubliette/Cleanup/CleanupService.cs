using Oubliette.Configuration;
using Oubliette.Operations;

namespace Oubliette.Cleanup;

/// <summary>
/// Every <c>defaults.cleanup.interval_minutes</c> (the first pass one interval after start), runs each
/// <see cref="ICleanupTask"/> with the cut-off <c>retention_minutes</c> ago, logs one line with the count of each kind
/// and adds them to <c>oubliette_cleanup_removed_total{kind}</c>. A kind that fails is logged and tried again next pass;
/// it never stops the others.
/// </summary>
public sealed partial class CleanupService(
    IEnumerable<ICleanupTask> tasks,
    OublietteConfig config,
    OublietteMetrics metrics,
    TimeProvider time,
    ILogger<CleanupService> logger) : BackgroundService
{
    private readonly IReadOnlyList<ICleanupTask> _tasks = [.. tasks];

    // Made with the service, not in ExecuteAsync (which .NET 10 starts later, on the pool): passes count from start.
    private readonly PeriodicTimer _timer = new(TimeSpan.FromMinutes(config.Defaults.Cleanup.IntervalMinutes), time);

    public override void Dispose()
    {
        _timer.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _timer.WaitForNextTickAsync(stoppingToken))
            {
                await RunOnceAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: a pass cut short is simply done again at the next start.
        }
    }

    /// <summary>One pass over every kind; returns the count removed per kind (a failed kind counts 0).</summary>
    public async Task<IReadOnlyDictionary<string, int>> RunOnceAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var cutoff = now - TimeSpan.FromMinutes(config.Defaults.Cleanup.RetentionMinutes);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var task in _tasks)
        {
            try
            {
                counts[task.Kind] = await task.RunAsync(now, cutoff, cancellationToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                counts[task.Kind] = 0;
                LogKindFailed(logger, task.Kind, exception);
            }

            metrics.CleanupRemoved.WithLabels(task.Kind).Inc(counts[task.Kind]);
        }

        LogPass(logger, string.Join(", ", counts.Select(pair => $"{pair.Key}={pair.Value}")), config.Defaults.Cleanup.RetentionMinutes);
        return counts;
    }

    [LoggerMessage(EventId = 150, Level = LogLevel.Information, Message = "cleanup pass removed {Counts} (retention {RetentionMinutes} min)")]
    private static partial void LogPass(ILogger logger, string counts, int retentionMinutes);

    [LoggerMessage(EventId = 151, Level = LogLevel.Warning, Message = "cleanup of {Kind} failed; it is tried again at the next pass")]
    private static partial void LogKindFailed(ILogger logger, string kind, Exception exception);
}
