using Oubliette.Projects;
using Oubliette.Sessions;

namespace Oubliette.Hosting;

/// <summary>
/// At start-up, reloads sessions (before serving: they are on disk) and then, in the background, reattaches to the
/// agents of live ones so that their events keep flowing; the agents need the container engine, which may be away.
/// </summary>
public sealed partial class SessionRecoveryService(SessionService sessions, TimeProvider time, ILogger<SessionRecoveryService> logger) : BackgroundService
{
    private IReadOnlyList<AgentHost> _live = [];

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            _live = await sessions.RecoverAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // A session that cannot be recovered must not keep the server from serving the others.
            LogRecoveryFailed(logger, exception);
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var host in _live)
        {
            await StartupRetry.RunAsync($"reattach to the agent in container {ProjectContainers.NameOf(host)}",
                token => sessions.ReattachAgentAsync(host, token), logger, time, stoppingToken);
        }
    }

    [LoggerMessage(EventId = 22, Level = LogLevel.Error, Message = "session recovery failed")]
    private static partial void LogRecoveryFailed(ILogger logger, Exception exception);
}
