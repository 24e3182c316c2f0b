namespace Oubliette.Operations.Backups;

/// <summary>One archive in the backup folder, as its name and size tell.</summary>
public sealed record BackupFile(string Path, Guid ProjectId, DateTimeOffset CreatedAt, long SizeBytes);

/// <summary>The archives in the backup folder (only names <see cref="BackupArchiveName"/> makes) and their retention.</summary>
public static class BackupCatalog
{
    /// <summary>Every archive, newest first, then by project id.</summary>
    public static IReadOnlyList<BackupFile> List(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return [];
        }

        var files = new List<BackupFile>();
        foreach (var path in Directory.EnumerateFiles(directory, "*.tar.gz"))
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is null && BackupArchiveName.TryParse(info.Name, out var projectId, out var createdAt))
            {
                files.Add(new BackupFile(path, projectId, createdAt, info.Length));
            }
        }

        return [.. files.OrderByDescending(file => file.CreatedAt).ThenBy(file => file.ProjectId)];
    }

    /// <summary>Deletes all but the newest <paramref name="retention"/> archives of each project; returns those deleted.</summary>
    public static IReadOnlyList<BackupFile> Prune(string directory, int retention)
    {
        var deleted = new List<BackupFile>();
        foreach (var project in List(directory).GroupBy(file => file.ProjectId))
        {
            foreach (var old in project.Skip(Math.Max(1, retention)))
            {
                File.Delete(old.Path);
                deleted.Add(old);
            }
        }

        return deleted;
    }
}
