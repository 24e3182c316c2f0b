using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Server;

namespace Oubliette.Mcp;

/// <summary>
/// The level a client asked for with <c>logging/setLevel</c>: <c>notifications/message</c> pushes below it are not sent
/// to that client (none is filtered until it asks).
/// </summary>
internal static class ClientLogLevel
{
    /// <summary>The levels of RFC 5424 as MCP names them, least severe first.</summary>
    public static readonly string[] Levels = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

    /// <summary>Refuses a <c>logging/setLevel</c> whose level is missing or unknown, naming the value and the allowed levels.</summary>
    public static void Require(JsonNode? parameters)
    {
        var level = parameters is JsonObject body && body["level"] is JsonValue value && value.TryGetValue(out string? text) ? text : null;
        if (level is null || !Levels.Contains(level, StringComparer.Ordinal))
        {
            var given = parameters is JsonObject withLevel && withLevel["level"] is { } node ? $"'level' {node.ToJsonString()} is not valid" : "'level' is required";
            throw new McpProtocolException($"logging/setLevel: {given} (allowed: {string.Join(", ", Levels)})", McpErrorCode.InvalidParams);
        }
    }

    /// <summary>Whether a push at <paramref name="level"/> reaches the client of <paramref name="server"/>.</summary>
    public static bool Allows(McpServer server, string level)
    {
#pragma warning disable MCP9005 // The SDK marks MCP logging deprecated for the 2026-07-28 revision; legacy clients still set it.
        var minimum = server.LoggingLevel;
#pragma warning restore MCP9005
        return minimum is null || Array.IndexOf(Levels, level) >= (int)minimum.Value;
    }
}
