using Oubliette.Sessions;

namespace Oubliette.Hosting;

/// <summary>At start-up, reloads sessions and reattaches to the agents of live ones, so their events keep flowing.</summary>
public sealed partial class SessionRecoveryService(SessionService sessions, ILogger<SessionRecoveryService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await sessions.RecoverAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // A session that cannot be recovered must not keep the server from serving the others.
            LogRecoveryFailed(logger, exception);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 22, Level = LogLevel.Error, Message = "session recovery failed")]
    private static partial void LogRecoveryFailed(ILogger logger, Exception exception);
}
