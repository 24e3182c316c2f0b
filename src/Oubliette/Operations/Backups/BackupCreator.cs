using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Storage;

namespace Oubliette.Operations.Backups;

/// <summary>
/// Makes project archives in the backup folder. The databases are copied once per run through SQLite's online backup
/// API (a consistent state while the server keeps writing) and the whole of both copies goes into every archive of the
/// run: a restore takes from them only the project's own tokens and schedules, and an operator who lost
/// <c>data/auth.db</c> can take it from any archive (<c>tar -xzf … databases/auth.db</c>).
/// </summary>
public sealed class BackupCreator(OublietteHome home, string directory, SqliteDatabase authDatabase, SqliteDatabase schedulesDatabase, TimeProvider time)
{
    public string Directory => directory;

    /// <summary>Backs up the project, or every project when <paramref name="projectId"/> is null.</summary>
    /// <exception cref="NotFoundException">The project does not exist.</exception>
    /// <exception cref="ConflictException">An archive of the same project and second exists already.</exception>
    public async Task<IReadOnlyList<BackupArchive>> CreateAsync(Guid? projectId, bool includeWorkspaces, CancellationToken cancellationToken)
    {
        var projects = projectId is { } only ? [only] : ProjectIds();
        if (projectId is { } wanted && !File.Exists(MetadataFile(wanted)))
        {
            throw new NotFoundException($"project '{wanted:D}' not found (no {MetadataFile(wanted)})");
        }

        if (projects.Count == 0)
        {
            return [];
        }

        BackupLocation.Ensure(directory);
        var createdAt = time.GetUtcNow();
        var scratch = Path.Combine(directory, $".databases-{Guid.NewGuid():N}.tmp");
        System.IO.Directory.CreateDirectory(scratch, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            var auth = Path.Combine(scratch, "auth.db");
            var schedules = Path.Combine(scratch, "schedules.db");
            await authDatabase.BackupToAsync(auth, cancellationToken);
            await schedulesDatabase.BackupToAsync(schedules, cancellationToken);
            var archives = new List<BackupArchive>();
            foreach (var project in projects)
            {
                var path = Path.Combine(directory, BackupArchiveName.For(project, createdAt));
                if (File.Exists(path))
                {
                    throw new ConflictException($"backup {path} exists already (one archive per project and second); try again in a second");
                }

                archives.Add(await BackupArchiveWriter.WriteAsync(path, project, Path.Combine(home.ProjectsDirectory, project.ToString("D")), includeWorkspaces,
                    [("databases/auth.db", auth), ("databases/schedules.db", schedules)], createdAt, cancellationToken));
            }

            return archives;
        }
        finally
        {
            System.IO.Directory.Delete(scratch, recursive: true);
        }
    }

    private List<Guid> ProjectIds() => !System.IO.Directory.Exists(home.ProjectsDirectory)
        ? []
        : [.. System.IO.Directory.EnumerateDirectories(home.ProjectsDirectory)
            .Select(folder => Guid.TryParseExact(Path.GetFileName(folder), "D", out var id) ? id : Guid.Empty)
            .Where(id => id != Guid.Empty && File.Exists(MetadataFile(id)))
            .Order()];

    private string MetadataFile(Guid projectId) => Path.Combine(home.ProjectsDirectory, projectId.ToString("D"), "metadata.json");
}
