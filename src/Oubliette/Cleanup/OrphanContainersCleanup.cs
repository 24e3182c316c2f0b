using Oubliette.Configuration;
using Oubliette.Containers;
using Oubliette.Projects;

namespace Oubliette.Cleanup;

/// <summary>
/// Stopped containers of ours (label <c>oubliette.managed=true</c>) whose project, or whose isolated workspace, no
/// longer exists, through the <see cref="IContainerRuntime"/> port. "Ours" also means one of its mounts lies in this
/// home's <c>data/projects/</c>: another home's server on the same engine keeps its containers. A running container is
/// left alone (its agent may still be finishing); removing a container never touches the folders it mounted.
/// </summary>
public sealed class OrphanContainersCleanup(IContainerRuntime runtime, ProjectStore projects, OublietteHome home) : ICleanupTask
{
    public string Kind => "containers";

    public async Task<int> RunAsync(DateTimeOffset now, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var projectsFolder = Path.TrimEndingDirectorySeparator(home.ProjectsDirectory) + Path.DirectorySeparatorChar;
        var removed = 0;
        foreach (var container in await runtime.ListByLabelAsync(ProjectContainers.ManagedLabel, "true", cancellationToken))
        {
            if (container.Running
                || !container.Mounts.Any(mount => mount.HostPath.StartsWith(projectsFolder, StringComparison.Ordinal))
                || !container.Labels.TryGetValue(ProjectContainers.ProjectLabel, out var label)
                || !Guid.TryParseExact(label, "D", out var projectId))
            {
                continue;
            }

            var project = await projects.FindAsync(projectId, cancellationToken);
            var orphan = project is null
                || (container.Labels.TryGetValue(ProjectContainers.WorkspaceLabel, out var workspace)
                    && Guid.TryParseExact(workspace, "D", out var workspaceId)
                    && project.Workspaces.All(candidate => candidate.Id != workspaceId));
            if (orphan)
            {
                await runtime.RemoveAsync(container.Id, cancellationToken);
                removed++;
            }
        }

        return removed;
    }
}
