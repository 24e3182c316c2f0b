using System.Text.Json;
using System.Text.Json.Nodes;
using Oubliette.Errors;
using Oubliette.Storage;

namespace Oubliette.Cli;

/// <summary>
/// A client's MCP config file: read strictly as JSON (a file that is not, or whose server section is not an object, is
/// refused and left alone), one server entry replaced, every other key kept, written 0600 through a temp file and a rename.
/// </summary>
internal static class McpClientConfigFile
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The file's root object (a fresh one when the file does not exist); a clear error when it is not JSON.</summary>
    public static JsonObject Load(string path, McpClientProfile profile)
    {
        if (!File.Exists(path))
        {
            return profile.NewFile?.DeepClone().AsObject() ?? [];
        }

        JsonNode? root;
        try
        {
            var text = File.ReadAllText(path);
            root = string.IsNullOrWhiteSpace(text) ? new JsonObject() : JsonNode.Parse(text);
        }
        catch (JsonException exception)
        {
            throw new ConflictException($"{path} is not JSON ({exception.Message}); {profile.Name}'s MCP config must be plain JSON without comments. Fix or move it, then run this again (nothing was changed)");
        }

        if (root is not JsonObject rootObject)
        {
            throw new ConflictException($"{path} holds JSON that is not an object; {profile.Name}'s MCP config is an object with '{profile.Section}'. Fix or move it, then run this again (nothing was changed)");
        }

        if (rootObject[profile.Section] is { } section && section is not JsonObject)
        {
            throw new ConflictException($"'{profile.Section}' in {path} is not an object; {profile.Name} expects an object of servers there. Fix it, then run this again (nothing was changed)");
        }

        return rootObject;
    }

    /// <summary>The Oubliette secret (<c>oub_…</c>) the file's entry for <paramref name="serverName"/> holds, wherever the client keeps it (a header, an environment variable), or null.</summary>
    public static string? HeldSecret(JsonObject root, McpClientProfile profile, string serverName) =>
        root[profile.Section] is JsonObject servers && servers[serverName] is { } entry
            && System.Text.RegularExpressions.Regex.Match(entry.ToJsonString(), "oub_[0-9a-f]{64}") is { Success: true } match
            ? match.Value
            : null;

    /// <summary>Sets <c>section.serverName</c> to the entry; everything else in the file stays as it was.</summary>
    public static void SetServer(JsonObject root, McpClientProfile profile, string serverName, JsonObject entry)
    {
        if (root[profile.Section] is not JsonObject servers)
        {
            servers = [];
            root[profile.Section] = servers;
        }

        servers[serverName] = entry;
    }

    public static async Task WriteAsync(string path, JsonObject root, CancellationToken cancellationToken)
    {
        // A linked config (dotfiles kept in a repository) is written where the link points, and stays a link.
        if (new FileInfo(path).LinkTarget is not null)
        {
            path = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
        }
        var directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? throw new InvalidArgumentException($"--config '{path}' has no folder");
        Directory.CreateDirectory(directory);
        await AtomicFile.WriteTextAsync(path, root.ToJsonString(Indented) + "\n", cancellationToken);
    }
}
