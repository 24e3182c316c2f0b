namespace Oubliette.Sessions;

/// <summary>
/// Checks every <see cref="CheckInterval"/> (on the injected clock) for sessions idle longer than
/// <c>defaults.limits.session_idle_timeout_minutes</c> (<see cref="SessionService.TimeOutIdle"/>): one pass over the
/// sessions in memory, no I/O unless one times out. A session times out at most one interval after its threshold.
/// </summary>
public sealed partial class SessionIdleTimeoutService(SessionService sessions, TimeProvider time, ILogger<SessionIdleTimeoutService> logger) : BackgroundService
{
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(15);

    // Made with the service, not in ExecuteAsync (which .NET 10 starts later, on the pool): checks count from start.
    private readonly PeriodicTimer _timer = new(CheckInterval, time);

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
                try
                {
                    sessions.TimeOutIdle();
                }
                catch (Exception exception) when (exception is not OutOfMemoryException)
                {
                    LogCheckFailed(logger, exception);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    [LoggerMessage(EventId = 47, Level = LogLevel.Error, Message = "the idle-timeout check failed; it runs again at the next interval")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);
}
