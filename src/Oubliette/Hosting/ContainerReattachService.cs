using Oubliette.Projects;

namespace Oubliette.Hosting;

/// <summary>
/// At start-up, finds this server's containers by label and reattaches to them (nothing is recreated); a project whose
/// container was removed gets a new one the next time it is started or used.
/// </summary>
public sealed partial class ContainerReattachService(ProjectStore store, ProjectContainers containers, ILogger<ContainerReattachService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            var found = await containers.FindManagedAsync(cancellationToken);
            var projects = await store.ListAsync(cancellationToken);
            var attached = projects.Count(project => found.ContainsKey(project.Id));
            var orphans = found.Keys.Count(id => projects.All(project => project.Id != id));
            LogReattached(logger, attached, projects.Count, orphans);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The engine being down must not keep the server from serving; /ready reports it.
            LogUnavailable(logger, exception);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "reattached to {Attached} of {Projects} project containers; {Orphans} containers belong to no known project")]
    private static partial void LogReattached(ILogger logger, int attached, int projects, int orphans);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "could not list containers at start-up")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);
}
