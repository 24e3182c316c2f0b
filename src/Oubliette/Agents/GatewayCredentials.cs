using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Oubliette.Projects;

namespace Oubliette.Agents;

/// <summary>
/// The credential each container (an <see cref="AgentHost"/>) presents to the gateway. The secret lives only in the
/// container's agent config; the server keeps its SHA-256 (<c>gateway.sha256</c> in the host's folder, outside every
/// mount), and knows from it which project and which host a call comes from.
/// </summary>
public sealed class GatewayCredentials(ProjectPaths paths)
{
    private const string HashFileName = "gateway.sha256";
    private readonly ConcurrentDictionary<string, GatewayIdentity> _byHash = new(StringComparer.Ordinal);
    private readonly Lock _loadGate = new();
    private bool _loaded;

    /// <summary>Makes a new credential for the host's container (replacing its earlier one) and returns its secret.</summary>
    public async Task<string> IssueAsync(AgentHost host, CancellationToken cancellationToken)
    {
        EnsureLoaded();
        var secret = "ogw_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var hash = Hash(secret);
        Forget(identity => identity.HostKey == host.Key);
        await File.WriteAllTextAsync(Path.Combine(paths.HostDirectory(host), HashFileName), hash, cancellationToken);
        _byHash[hash] = new GatewayIdentity(host.Project.Id, host.Key);
        return secret;
    }

    /// <summary>The project a presented credential belongs to, or null.</summary>
    public Guid? Resolve(string? secret) => Identify(secret)?.ProjectId;

    /// <summary>The project and host (container) a presented credential belongs to, or null.</summary>
    public GatewayIdentity? Identify(string? secret)
    {
        if (string.IsNullOrEmpty(secret))
        {
            return null;
        }

        EnsureLoaded();
        return _byHash.TryGetValue(Hash(secret), out var identity) ? identity : null;
    }

    /// <summary>The credentials of every container of the project stop working at once: the project is being deleted.</summary>
    public void Revoke(Guid projectId)
    {
        EnsureLoaded();
        Forget(identity => identity.ProjectId == projectId);
        foreach (var file in HashFiles(paths.Directory(projectId)))
        {
            File.Delete(file);
        }
    }

    private void Forget(Func<GatewayIdentity, bool> matches)
    {
        foreach (var (hash, identity) in _byHash)
        {
            if (matches(identity))
            {
                _byHash.TryRemove(hash, out _);
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
                if (!Guid.TryParseExact(Path.GetFileName(directory), "D", out var projectId))
                {
                    continue;
                }

                foreach (var file in HashFiles(directory))
                {
                    var folder = Path.GetFileName(Path.GetDirectoryName(file)) ?? "";
                    var hostKey = Guid.TryParseExact(folder, "D", out var workspace) && workspace != projectId ? workspace : projectId;
                    if (File.ReadAllText(file).Trim() is { Length: 64 } hash)
                    {
                        _byHash.TryAdd(hash, new GatewayIdentity(projectId, hostKey));
                    }
                }
            }

            Volatile.Write(ref _loaded, true);
        }
    }

    /// <summary>The project's own hash file and those of its isolated workspaces' hosts (<c>hosts/&lt;workspace-id&gt;/</c>).</summary>
    private static IEnumerable<string> HashFiles(string projectDirectory)
    {
        var own = Path.Combine(projectDirectory, HashFileName);
        if (File.Exists(own))
        {
            yield return own;
        }

        var hosts = Path.Combine(projectDirectory, "hosts");
        foreach (var host in Directory.Exists(hosts) ? Directory.EnumerateDirectories(hosts) : [])
        {
            var file = Path.Combine(host, HashFileName);
            if (File.Exists(file))
            {
                yield return file;
            }
        }
    }

    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
}
