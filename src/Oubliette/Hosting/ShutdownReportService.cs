using Oubliette.Containers;
using Oubliette.Errors;
using Oubliette.Projects;
using Oubliette.Sessions;

namespace Oubliette.Hosting;

/// <summary>
/// Says in the log what a graceful stop did and left behind: the sessions (their state is saved as it changes, so what
/// is on disk is current: active ones are resumed after a restart), the project containers left running (a restart
/// reattaches to them), the scheduler, cleanup and backup services stopped. Registered before every other hosted service, so it stops after all of
/// them; the databases are closed after it, and <see cref="OublietteServer.DisposeAsync"/> says so.
/// </summary>
internal sealed partial class ShutdownReportService(ProjectService projects, SessionService sessions, IContainerRuntime runtime, ILogger<ShutdownReportService> logger) : IHostedService
{
    /// <summary>How long the stop waits for the engine to list the containers: a hung engine must not hold the exit.</summary>
    private static readonly TimeSpan EngineBound = TimeSpan.FromSeconds(3);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var projectIds = new HashSet<string>(StringComparer.Ordinal);
        int total = 0, active = 0;
        foreach (var project in await projects.ListAllAsync(cancellationToken))
        {
            projectIds.Add(project.Id.ToString("D"));
            foreach (var session in sessions.List(project.Id, null))
            {
                total++;
                active += SessionStatus.IsFinal(session.Status) ? 0 : 1;
            }
        }

        LogSessions(logger, total, active);
        LogContainers(logger, await RunningContainersAsync(projectIds, cancellationToken));
        LogSchedules(logger);
    }

    private async Task<string> RunningContainersAsync(HashSet<string> projectIds, CancellationToken cancellationToken)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(EngineBound);
        try
        {
            var containers = await runtime.ListByLabelAsync(ProjectContainers.ManagedLabel, "true", bound.Token);
            return containers.Count(container => container.Running
                && container.Labels.TryGetValue(ProjectContainers.ProjectLabel, out var project) && projectIds.Contains(project))
                .ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception exception) when (exception is OublietteException or OperationCanceledException)
        {
            return $"unknown (the container engine: {(exception is OperationCanceledException ? $"no answer within {EngineBound.TotalSeconds:0} s" : exception.Message)})";
        }
    }

    [LoggerMessage(EventId = 170, Level = LogLevel.Information, Message = "shutdown: {Total} sessions persisted in data/projects ({Active} active; they are resumed after a restart)")]
    private static partial void LogSessions(ILogger logger, int total, int active);

    [LoggerMessage(EventId = 171, Level = LogLevel.Information, Message = "shutdown: {Count} project containers left running (a restart reattaches to them)")]
    private static partial void LogContainers(ILogger logger, string count);

    [LoggerMessage(EventId = 172, Level = LogLevel.Information, Message = "shutdown: schedule runner stopped (runs in flight recorded as interrupted), cleanup and backups stopped; closing databases")]
    private static partial void LogSchedules(ILogger logger);
}
