namespace Oubliette.Hosting;

/// <summary>
/// Start-up work that needs the container engine, run in the background so that the server serves (and /ready reports
/// the engine) at once: tried again with growing pauses while the engine is away, a bounded number of times.
/// </summary>
internal static partial class StartupRetry
{
    public const int MaxAttempts = 30;
    private static readonly TimeSpan FirstPause = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(60);

    public static async Task RunAsync(string what, Func<CancellationToken, Task> work, ILogger logger, TimeProvider time, CancellationToken stoppingToken)
    {
        try
        {
            await RetryAsync(what, work, logger, time, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping, also when the start failed (a port in use) and the host is torn down at once: no failure of
            // this work, and it must not reach the host as a faulted background service.
        }
    }

    private static async Task RetryAsync(string what, Func<CancellationToken, Task> work, ILogger logger, TimeProvider time, CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await work(stoppingToken);
                if (attempt > 1)
                {
                    LogSucceededLate(logger, what, attempt);
                }

                return;
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                if (attempt >= MaxAttempts)
                {
                    LogGaveUp(logger, what, attempt, exception);
                    return;
                }

                var pause = TimeSpan.FromTicks(Math.Min(LongestPause.Ticks, FirstPause.Ticks << Math.Min(attempt - 1, 10)));
                LogRetrying(logger, what, attempt, exception.Message, pause.TotalSeconds);
                await Task.Delay(pause, time, stoppingToken);
            }
        }
    }

    [LoggerMessage(EventId = 23, Level = LogLevel.Warning, Message = "start-up: could not {What} (attempt {Attempt}): {Reason}; trying again in {Seconds} s")]
    private static partial void LogRetrying(ILogger logger, string what, int attempt, string reason, double seconds);

    [LoggerMessage(EventId = 24, Level = LogLevel.Information, Message = "start-up: the container engine is back; could {What} at attempt {Attempt}")]
    private static partial void LogSucceededLate(ILogger logger, string what, int attempt);

    [LoggerMessage(EventId = 25, Level = LogLevel.Error, Message = "start-up: gave up trying to {What} after {Attempts} attempts; projects reattach when next used")]
    private static partial void LogGaveUp(ILogger logger, string what, int attempts, Exception exception);
}
