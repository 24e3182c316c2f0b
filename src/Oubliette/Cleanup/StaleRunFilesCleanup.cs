using Oubliette.Containers;
using Oubliette.Projects;

namespace Oubliette.Cleanup;

/// <summary>
/// Per-host files that belong to nothing live:
/// <list type="bullet">
/// <item><c>data/projects/&lt;id&gt;/hosts/&lt;workspace-id&gt;/</c> (run, agent-config, agent-socket, credential hash) of
/// an isolated workspace that was deleted and has no container left, looked at under the project's lock;</item>
/// <item>the folder of a deleted project that holds nothing but <c>sessions/*.json</c>, brought back by a session's last
/// state save after the delete.</item>
/// </list>
/// Both only when last changed at or before the cut-off. A workspace folder is never among them: <c>workspaces/</c> is
/// not looked into, and a deleted project's folder that still has anything besides session files stays as it is.
/// </summary>
public sealed class StaleRunFilesCleanup(ProjectStore projects, ProjectPaths paths, KeyedLocks locks, IContainerRuntime runtime) : ICleanupTask
{
    public string Kind => "run_files";

    public async Task<int> RunAsync(DateTimeOffset now, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(paths.Root))
        {
            return 0;
        }

        var removed = 0;
        foreach (var folder in new DirectoryInfo(paths.Root).EnumerateDirectories())
        {
            if (folder.LinkTarget is not null || !Guid.TryParseExact(folder.Name, "D", out var projectId))
            {
                continue;
            }

            removed += await projects.FindAsync(projectId, cancellationToken) is null
                ? RemoveSessionsLeftover(folder, cutoff)
                : await RemoveDeletedHostsAsync(projectId, cutoff, cancellationToken);
        }

        return removed;
    }

    private async Task<int> RemoveDeletedHostsAsync(Guid projectId, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var hosts = new DirectoryInfo(Path.Combine(paths.Directory(projectId), "hosts"));
        if (!hosts.Exists || hosts.LinkTarget is not null)
        {
            return 0;
        }

        // Workspace create and delete hold this lock: no host folder is being made or removed meanwhile.
        using var _ = await locks.AcquireAsync(projectId, cancellationToken);
        if (await projects.FindAsync(projectId, cancellationToken) is not { } project)
        {
            return 0;
        }

        var removed = 0;
        foreach (var host in hosts.EnumerateDirectories())
        {
            if (host.LinkTarget is null && Guid.TryParseExact(host.Name, "D", out var workspaceId)
                && project.Workspaces.All(workspace => workspace.Id != workspaceId)
                && host.LastWriteTimeUtc <= cutoff.UtcDateTime
                && await runtime.InspectAsync(ProjectContainers.NameOf(new AgentHost(project, workspaceId)), cancellationToken) is null)
            {
                // The host's run/ was the agent's: removed without following anything it may have planted there.
                await WorkspaceFolders.DeleteAsync(host.FullName, cancellationToken);
                removed++;
            }
        }

        return removed;
    }

    private static int RemoveSessionsLeftover(DirectoryInfo folder, DateTimeOffset cutoff)
    {
        var entries = folder.GetFileSystemInfos();
        if (entries is not [DirectoryInfo { Name: "sessions", LinkTarget: null } sessions])
        {
            return 0;
        }

        var files = sessions.GetFileSystemInfos();
        if (!files.All(file => file is FileInfo { LinkTarget: null } && file.Name.EndsWith(".json", StringComparison.Ordinal) && file.LastWriteTimeUtc <= cutoff.UtcDateTime))
        {
            return 0;
        }

        foreach (var file in files)
        {
            file.Delete();
        }

        sessions.Delete();
        folder.Delete();
        return files.Length;
    }
}
