using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Oubliette.Projects;

namespace Oubliette.Agents;

/// <summary>
/// The credential each project container presents to the gateway. The secret lives only in the container's agent
/// config; the server keeps its SHA-256 (<c>data/projects/&lt;id&gt;/gateway.sha256</c>, outside every mount).
/// </summary>
public sealed class GatewayCredentials(ProjectPaths paths)
{
    private readonly ConcurrentDictionary<string, Guid> _projectsByHash = new(StringComparer.Ordinal);
    private readonly Lock _loadGate = new();
    private bool _loaded;

    /// <summary>Makes a new credential for the project (replacing any earlier one) and returns its secret.</summary>
    public async Task<string> IssueAsync(Guid projectId, CancellationToken cancellationToken)
    {
        EnsureLoaded();
        var secret = "ogw_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var hash = Hash(secret);
        Forget(projectId);
        await File.WriteAllTextAsync(HashFile(projectId), hash, cancellationToken);
        _projectsByHash[hash] = projectId;
        return secret;
    }

    /// <summary>The project a presented credential belongs to, or null.</summary>
    public Guid? Resolve(string? secret)
    {
        if (string.IsNullOrEmpty(secret))
        {
            return null;
        }

        EnsureLoaded();
        return _projectsByHash.TryGetValue(Hash(secret), out var projectId) ? projectId : null;
    }

    /// <summary>The project's credential stops working at once (memory and hash file): the project is being deleted.</summary>
    public void Revoke(Guid projectId)
    {
        EnsureLoaded();
        Forget(projectId);
        if (File.Exists(HashFile(projectId)))
        {
            File.Delete(HashFile(projectId));
        }
    }

    private void Forget(Guid projectId)
    {
        foreach (var (existing, owner) in _projectsByHash)
        {
            if (owner == projectId)
            {
                _projectsByHash.TryRemove(existing, out _);
            }
        }
    }

    /// <summary>
    /// Once per process: the hash files on disk know every live container's credential (a restart keeps containers).
    /// From then on the map is the truth, so an unknown credential costs a lookup, never a scan of the disk.
    /// </summary>
    private void EnsureLoaded()
    {
        if (Volatile.Read(ref _loaded))
        {
            return;
        }

        lock (_loadGate)
        {
            if (_loaded)
            {
                return;
            }

            foreach (var directory in Directory.Exists(paths.Root) ? Directory.EnumerateDirectories(paths.Root) : [])
            {
                if (Guid.TryParseExact(Path.GetFileName(directory), "D", out var id) && File.Exists(HashFile(id))
                    && File.ReadAllText(HashFile(id)).Trim() is { Length: 64 } hash)
                {
                    _projectsByHash.TryAdd(hash, id);
                }
            }

            Volatile.Write(ref _loaded, true);
        }
    }

    private string HashFile(Guid projectId) => Path.Combine(paths.Directory(projectId), "gateway.sha256");

    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
}
