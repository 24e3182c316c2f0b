using System.Text.Json.Nodes;

namespace Oubliette.Cli;

/// <summary>
/// One MCP client <c>oubliette mcp --setup</c> writes a config for: where its file lives, which top-level object holds
/// its servers, and the entry it reads for a Streamable HTTP server with a bearer token. Formats as each client documents
/// them (Claude Code's <c>.mcp.json</c>/<c>~/.claude.json</c>, Claude Desktop's <c>claude_desktop_config.json</c>, Cursor's
/// <c>mcp.json</c>, OpenCode's <c>opencode.json</c>, VS Code's <c>mcp.json</c>).
/// </summary>
internal sealed record McpClientProfile(
    string Name,
    string Section,
    Func<McpClientPaths, string> ProjectPath,
    Func<McpClientPaths, string> UserPath,
    Func<Uri, string, JsonObject> Entry,
    Func<string, string> NextStep,
    JsonObject? NewFile = null)
{
    /// <summary>Claude Desktop starts a stdio bridge for a remote server; pinned so that a setup behaves the same tomorrow.</summary>
    public const string McpRemotePackage = "mcp-remote@0.15.1";

    public static IReadOnlyList<McpClientProfile> All { get; } =
    [
        new("claude-code", "mcpServers",
            paths => Path.Combine(paths.CurrentDirectory, ".mcp.json"),
            paths => Path.Combine(paths.UserHome, ".claude.json"),
            HttpEntry,
            path => Path.GetFileName(path) == ".claude.json"
                ? "run 'claude mcp list': it shows 'oubliette' connected, in every project"
                : $"run 'claude' in {Path.GetDirectoryName(path)} and approve the project server 'oubliette' when asked ('claude mcp list' shows it connected)"),
        new("claude", "mcpServers",
            paths => Path.Combine(paths.ConfigHome, "Claude", "claude_desktop_config.json"),
            paths => Path.Combine(paths.ConfigHome, "Claude", "claude_desktop_config.json"),
            (url, secret) => new JsonObject
            {
                // Claude Desktop's config file starts local (stdio) servers only: mcp-remote bridges to the HTTP endpoint.
                // The header travels through the environment because Claude Desktop splits arguments at spaces on some systems.
                ["command"] = "npx",
                ["args"] = new JsonArray("-y", McpRemotePackage, url.ToString(), "--allow-http", "--header", "Authorization:${OUBLIETTE_AUTHORIZATION}"),
                ["env"] = new JsonObject { ["OUBLIETTE_AUTHORIZATION"] = $"Bearer {secret}" },
            },
            _ => "quit and restart Claude Desktop (it reads this file at start; it needs Node.js's npx for the mcp-remote bridge)"),
        new("cursor", "mcpServers",
            paths => Path.Combine(paths.UserHome, ".cursor", "mcp.json"),
            paths => Path.Combine(paths.UserHome, ".cursor", "mcp.json"),
            (url, secret) => new JsonObject { ["url"] = url.ToString(), ["headers"] = Authorization(secret) },
            _ => "Cursor picks the file up (Settings > MCP lists 'oubliette'); if it does not, restart Cursor"),
        new("opencode", "mcp",
            paths => Path.Combine(paths.CurrentDirectory, "opencode.json"),
            paths => Path.Combine(paths.ConfigHome, "opencode", "opencode.json"),
            (url, secret) => new JsonObject { ["type"] = "remote", ["url"] = url.ToString(), ["enabled"] = true, ["headers"] = Authorization(secret) },
            path => $"run 'opencode mcp list' in {Path.GetDirectoryName(path)}: it shows 'oubliette' connected",
            new JsonObject { ["$schema"] = "https://opencode.ai/config.json" }),
        new("vscode", "servers",
            paths => Path.Combine(paths.CurrentDirectory, ".vscode", "mcp.json"),
            paths => Path.Combine(paths.ConfigHome, "Code", "User", "mcp.json"),
            HttpEntry,
            _ => "in VS Code, run 'MCP: List Servers' and start 'oubliette' (Copilot's agent mode then offers its tools)"),
    ];

    public static IEnumerable<string> Names => All.Select(profile => profile.Name);

    public static McpClientProfile? Find(string? name) => All.FirstOrDefault(profile => profile.Name == name);

    private static JsonObject HttpEntry(Uri url, string secret) =>
        new() { ["type"] = "http", ["url"] = url.ToString(), ["headers"] = Authorization(secret) };

    private static JsonObject Authorization(string secret) => new() { ["Authorization"] = $"Bearer {secret}" };
}
