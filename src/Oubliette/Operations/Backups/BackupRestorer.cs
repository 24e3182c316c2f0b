using System.Text.Json;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Projects;
using Oubliette.Schedules;
using Oubliette.Storage;

namespace Oubliette.Operations.Backups;

/// <summary>What a restore brought back.</summary>
public sealed record RestoreReport(Guid ProjectId, string ProjectName, DateTimeOffset BackupCreatedAt, int Files, IReadOnlyList<string> Tokens, int Schedules, int SchedulesKept, int EmptyWorkspaces);

/// <summary>
/// Brings a project back from its archive while no server runs: the archive is checked in full first (a corrupt or
/// hostile one is refused and nothing changes), then extracted into a staging folder inside <c>data/projects/</c>, its
/// tokens and schedules are merged into the live databases, and the staging folder is renamed into place.
/// </summary>
public sealed class BackupRestorer(OublietteHome home, TimeProvider time)
{
    /// <exception cref="CorruptBackupException">The archive is corrupt or hostile: nothing was changed.</exception>
    /// <exception cref="InvalidArgumentException">The archive belongs to another project than <paramref name="expectedProject"/>.</exception>
    /// <exception cref="ConflictException">The server runs, or the project exists.</exception>
    public async Task<RestoreReport> RestoreAsync(string archivePath, Guid? expectedProject, CancellationToken cancellationToken)
    {
        var manifest = await BackupArchiveReader.ReadAsync(archivePath, null, cancellationToken);
        if (expectedProject is { } expected && expected != manifest.ProjectId)
        {
            throw new InvalidArgumentException($"--project {expected:D} does not match the archive {archivePath}, which holds project {manifest.ProjectId:D}; nothing was changed");
        }

        if (await ServerLiveness.DescribeRunningAsync(home, cancellationToken) is { } running)
        {
            throw new ConflictException($"oubliette is running for {home.Root} ({running}); a restore needs the server stopped: run 'oubliette stop' (or kill -TERM <pid>), then restore again. Nothing was changed");
        }

        // Holding the pid file keeps a server from starting in this home while the restore runs.
        var runFiles = new RunFiles(home);
        home.EnsureDataDirectories();
        runFiles.ClaimPidFile();
        try
        {
            return await RestoreStoppedAsync(archivePath, manifest, cancellationToken);
        }
        finally
        {
            runFiles.Release();
        }
    }

    private async Task<RestoreReport> RestoreStoppedAsync(string archivePath, BackupManifest manifest, CancellationToken cancellationToken)
    {
        var target = Path.Combine(home.ProjectsDirectory, manifest.ProjectId.ToString("D"));
        if (Path.Exists(target) || new FileInfo(target).LinkTarget is not null)
        {
            throw new ConflictException($"project {manifest.ProjectId:D} exists at {target}; delete it first (project tool, action delete) or move that folder away, then restore again. Nothing was changed");
        }

        // Inside data/projects/ (one file system, so the final rename is atomic); its name is no project id, so the server skips it.
        var staging = Path.Combine(home.ProjectsDirectory, $".restore-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            var extractor = new BackupExtractor(staging);
            // Read again while extracting: the checks run a second time on exactly the bytes written out.
            var extracted = await BackupArchiveReader.ReadAsync(archivePath, extractor, cancellationToken);
            if (extracted.ProjectId != manifest.ProjectId)
            {
                throw BackupArchiveReader.Corrupt(archivePath, "it changed while it was being restored");
            }

            extractor.Finish();
            var project = Path.Combine(staging, BackupArchiveWriter.ProjectPrefix);
            var metadata = await ReadMetadataAsync(archivePath, Path.Combine(project, "metadata.json"), manifest.ProjectId, cancellationToken);
            var emptyWorkspaces = manifest.IncludesWorkspaces ? 0 : RecreateWorkspaces(project, metadata);

            var auth = Path.Combine(staging, "databases", "auth.db");
            var schedules = Path.Combine(staging, "databases", "schedules.db");
            await CheckVersionAsync(archivePath, auth, TokenStore.Migrations.Count, cancellationToken);
            await CheckVersionAsync(archivePath, schedules, ScheduleStore.Migrations.Count, cancellationToken);
            // Older copies are brought to this release's schema first, as the live files are.
            await new SqliteDatabase(auth).MigrateAsync(TokenStore.Migrations, cancellationToken);
            await new SqliteDatabase(schedules, foreignKeys: true).MigrateAsync(ScheduleStore.Migrations, cancellationToken);

            using var tokenStore = new TokenStore(new SqliteDatabase(home.AuthDatabase));
            await tokenStore.InitializeAsync(cancellationToken);
            var scheduleStore = new ScheduleStore(new SqliteDatabase(home.SchedulesDatabase, foreignKeys: true), time);
            await scheduleStore.InitializeAsync(cancellationToken);
            var tokens = await tokenStore.MergeProjectTokensAsync(auth, manifest.ProjectId, cancellationToken);
            var (restored, kept) = await scheduleStore.MergeProjectSchedulesAsync(schedules, manifest.ProjectId, cancellationToken);

            Directory.Move(project, target);
            var files = manifest.Entries.Count(entry => entry.Type == BackupManifestEntry.File && entry.Path.StartsWith(BackupArchiveWriter.ProjectPrefix + "/", StringComparison.Ordinal));
            return new RestoreReport(manifest.ProjectId, metadata.Name, manifest.CreatedAt, files, tokens, restored, kept, emptyWorkspaces);
        }
        finally
        {
            // Only this process ever wrote here, and .NET's recursive delete removes links without following them.
            Directory.Delete(staging, recursive: true);
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }
    }

    private static async Task<ProjectMetadata> ReadMetadataAsync(string archivePath, string file, Guid projectId, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = File.OpenRead(file);
            var metadata = await JsonSerializer.DeserializeAsync(stream, ProjectJsonContext.Default.ProjectMetadata, cancellationToken);
            return metadata is not null && metadata.Id == projectId
                ? metadata
                : throw BackupArchiveReader.Corrupt(archivePath, $"project/metadata.json does not describe project {projectId:D}");
        }
        catch (JsonException exception)
        {
            throw BackupArchiveReader.Corrupt(archivePath, $"project/metadata.json is not valid: {exception.Message}");
        }
    }

    /// <summary>An archive without workspaces: each workspace the metadata lists gets a fresh empty folder for the agent user.</summary>
    private static int RecreateWorkspaces(string project, ProjectMetadata metadata)
    {
        var workspaces = Path.Combine(project, "workspaces");
        WorkspaceFolders.EnsureRoot(workspaces);
        var created = 0;
        foreach (var workspace in metadata.Workspaces)
        {
            var folder = Path.Combine(workspaces, workspace.Id.ToString("D"));
            if (!Path.Exists(folder))
            {
                WorkspaceFolders.CreateForAgent(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                created++;
            }
        }

        return created;
    }

    private static async Task CheckVersionAsync(string archivePath, string database, int known, CancellationToken cancellationToken)
    {
        var version = await new SqliteDatabase(database).ReadVersionAsync(cancellationToken);
        if (version > known)
        {
            throw new ConflictException(
                $"backup archive {archivePath} holds {Path.GetFileName(database)} at schema version {version}, newer than the {known} this release knows: restore it with the release that made it. Nothing was changed");
        }
    }
}
