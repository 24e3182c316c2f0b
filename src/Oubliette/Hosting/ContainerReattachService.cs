using Oubliette.Projects;

namespace Oubliette.Hosting;

/// <summary>
/// At start-up, finds this server's containers by label and reattaches to them (nothing is recreated); a project whose
/// container was removed gets a new one the next time it is started or used. Runs in the background: an engine that is
/// down or hung must not keep the server from serving (/ready reports it), and is tried again until it answers.
/// </summary>
public sealed partial class ContainerReattachService(ProjectStore store, ProjectContainers containers, TimeProvider time, ILogger<ContainerReattachService> logger)
    : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        StartupRetry.RunAsync("list this server's containers", async token =>
        {
            var found = await containers.FindManagedAsync(token);
            var projects = await store.ListAsync(token);
            var attached = projects.Count(project => found.ContainsKey(project.Id));
            var orphans = found.Keys.Count(id => projects.All(project => project.Id != id));
            LogReattached(logger, attached, projects.Count, orphans);
        }, logger, time, stoppingToken);

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "reattached to {Attached} of {Projects} project containers; {Orphans} containers belong to no known project")]
    private static partial void LogReattached(ILogger logger, int attached, int projects, int orphans);
}
