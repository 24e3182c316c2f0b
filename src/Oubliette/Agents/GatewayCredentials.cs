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

    /// <summary>Makes a new credential for the host's container (replacing its earlier one) and returns its secret.</summary>
    public async Task<string> IssueAsync(AgentHost host, CancellationToken cancellationToken)
    {
        var secret = "ogw_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var hash = Hash(secret);
        var file = Path.Combine(paths.HostDirectory(host), HashFileName);
        if (File.Exists(file) && (await File.ReadAllTextAsync(file, cancellationToken)).Trim() is { Length: > 0 } previous)
        {
            _projectsByHash.TryRemove(previous, out _);
        }

        await File.WriteAllTextAsync(file, hash, cancellationToken);
        _projectsByHash[hash] = host.Project.Id;
        return secret;
    }

    /// <summary>The project a presented credential belongs to, or null.</summary>
    public Guid? Resolve(string? secret)
    {
        if (string.IsNullOrEmpty(secret))
        {
            return null;
        }

        var hash = Hash(secret);
        if (_projectsByHash.TryGetValue(hash, out var projectId))
        {
            return projectId;
        }

        // After a restart the map is empty: the hash files on disk still know every live container's credential
        // (the project's own, and one per isolated workspace under hosts/).
        foreach (var directory in Directory.Exists(paths.Root) ? Directory.EnumerateDirectories(paths.Root) : [])
        {
            if (!Guid.TryParseExact(Path.GetFileName(directory), "D", out var id))
            {
                continue;
            }

            var hosts = Path.Combine(directory, "hosts");
            foreach (var file in Directory.Exists(hosts) ? Directory.EnumerateDirectories(hosts).Select(host => Path.Combine(host, HashFileName)).Prepend(Path.Combine(directory, HashFileName)) : [Path.Combine(directory, HashFileName)])
            {
                if (File.Exists(file) && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(File.ReadAllText(file).Trim()), Encoding.ASCII.GetBytes(hash)))
                {
                    _projectsByHash[hash] = id;
                    return id;
                }
            }
        }

        return null;
    }

    private const string HashFileName = "gateway.sha256";

    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
}
