using System.Collections.Concurrent;

namespace Oubliette.Projects;

/// <summary>Active sessions per project, kept by the session layer and read by project views (no dependency cycle).</summary>
public sealed class ActiveSessionCounts
{
    private readonly ConcurrentDictionary<Guid, int> _counts = new();

    public void Set(Guid projectId, int count) => _counts[projectId] = count;

    public int Get(Guid projectId) => _counts.TryGetValue(projectId, out var count) ? count : 0;
}
