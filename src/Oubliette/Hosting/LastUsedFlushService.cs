using Oubliette.Auth;

namespace Oubliette.Hosting;

/// <summary>Persists tokens' last-used times every 30 seconds and once more at shutdown.</summary>
public sealed partial class LastUsedFlushService(LastUsedTracker tracker, TimeProvider time, ILogger<LastUsedFlushService> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: StopAsync does the final flush.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushAsync(cancellationToken);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await tracker.FlushAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogFlushFailed(logger, exception);
        }
    }

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "could not persist token last-used times; will retry")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception);
}
