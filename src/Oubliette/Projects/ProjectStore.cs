using System.Collections.Concurrent;
using System.Text.Json;
using Oubliette.Storage;

namespace Oubliette.Projects;

/// <summary>
/// Project metadata on disk (atomic writes: temp file + rename) with an in-memory copy, loaded once, so that listing
/// never walks the disk. Callers hold the project's lock around read-modify-write.
/// </summary>
public sealed class ProjectStore(ProjectPaths paths)
{
    private readonly ConcurrentDictionary<Guid, ProjectMetadata> _projects = new();
    private readonly SemaphoreSlim _loadGate = new(1, 1);
    private bool _loaded;

    public async Task<IReadOnlyList<ProjectMetadata>> ListAsync(CancellationToken cancellationToken)
    {
        await EnsureLoadedAsync(cancellationToken);
        return [.. _projects.Values.OrderBy(project => project.CreatedAt).ThenBy(project => project.Name, StringComparer.Ordinal)];
    }

    public async Task<ProjectMetadata?> FindAsync(Guid id, CancellationToken cancellationToken)
    {
        await EnsureLoadedAsync(cancellationToken);
        return _projects.TryGetValue(id, out var project) ? project : null;
    }

    public ProjectMetadata? TryGetCached(Guid id) => _projects.TryGetValue(id, out var project) ? project : null;

    public async Task SaveAsync(ProjectMetadata project, CancellationToken cancellationToken)
    {
        await EnsureLoadedAsync(cancellationToken);
        var file = paths.MetadataFile(project.Id);
        Directory.CreateDirectory(paths.Directory(project.Id));
        await AtomicFile.WriteAsync(file, (stream, token) => JsonSerializer.SerializeAsync(stream, project, ProjectJsonContext.Default.ProjectMetadata, token), cancellationToken);
        _projects[project.Id] = project;
    }

    /// <summary>Forgets the project and removes its folder (workspaces included).</summary>
    public async Task DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        await EnsureLoadedAsync(cancellationToken);
        _projects.TryRemove(id, out _);
        var directory = paths.Directory(id);
        for (var attempt = 1; Directory.Exists(directory); attempt++)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (IOException) when (attempt < MaxDeleteAttempts)
            {
                // A session's state save in flight (a turn ending, an idle time-out) wrote its file after the walk listed
                // the folder ("Directory not empty"): walk again. A save after the delete is the cleanup's (run_files).
                await Task.Delay(TimeSpan.FromMilliseconds(20 * attempt), cancellationToken);
            }
        }
    }

    private const int MaxDeleteAttempts = 5;

    private async Task EnsureLoadedAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _loaded))
        {
            return;
        }

        await _loadGate.WaitAsync(cancellationToken);
        try
        {
            if (_loaded)
            {
                return;
            }

            if (Directory.Exists(paths.Root))
            {
                foreach (var directory in Directory.EnumerateDirectories(paths.Root))
                {
                    if (!Guid.TryParseExact(Path.GetFileName(directory), "D", out var id) || !File.Exists(paths.MetadataFile(id)))
                    {
                        continue;
                    }

                    await using var stream = File.OpenRead(paths.MetadataFile(id));
                    if (await JsonSerializer.DeserializeAsync(stream, ProjectJsonContext.Default.ProjectMetadata, cancellationToken) is { } project)
                    {
                        _projects[project.Id] = project;
                    }
                }
            }

            Volatile.Write(ref _loaded, true);
        }
        finally
        {
            _loadGate.Release();
        }
    }
}
