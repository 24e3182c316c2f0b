using System.Text.Json;
using Oubliette.Projects;
using Oubliette.Storage;

namespace Oubliette.Sessions;

/// <summary>Session metadata files, written atomically (temp file + rename).</summary>
public sealed class SessionStore(ProjectPaths paths)
{
    public async Task SaveAsync(SessionMetadata session, CancellationToken cancellationToken)
    {
        var directory = paths.SessionsDirectory(session.ProjectId);
        Directory.CreateDirectory(directory);
        var file = Path.Combine(directory, session.SessionId + ".json");
        await AtomicFile.WriteAsync(file, (stream, token) => JsonSerializer.SerializeAsync(stream, session, SessionJsonContext.Default.SessionMetadata, token), cancellationToken);
    }

    public async Task<IReadOnlyList<SessionMetadata>> LoadAllAsync(Guid projectId, CancellationToken cancellationToken)
    {
        var directory = paths.SessionsDirectory(projectId);
        if (!Directory.Exists(directory))
        {
            return [];
        }

        var sessions = new List<SessionMetadata>();
        foreach (var file in Directory.EnumerateFiles(directory, "*.json"))
        {
            await using var stream = File.OpenRead(file);
            if (await JsonSerializer.DeserializeAsync(stream, SessionJsonContext.Default.SessionMetadata, cancellationToken) is { } session)
            {
                sessions.Add(session);
            }
        }

        return sessions;
    }

    public void Delete(Guid projectId, string sessionId)
    {
        var file = Path.Combine(paths.SessionsDirectory(projectId), sessionId + ".json");
        if (File.Exists(file))
        {
            File.Delete(file);
        }
    }
}
