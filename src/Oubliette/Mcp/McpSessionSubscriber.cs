using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Server;
using Oubliette.Sessions;

namespace Oubliette.Mcp;

/// <summary>Pushes a session's notable events to one MCP client as <c>notifications/message</c> (logger <c>oubliette.session</c>).</summary>
internal sealed class McpSessionSubscriber(McpServer server) : ISessionSubscriber
{
    public string Key { get; } = server.SessionId ?? Guid.NewGuid().ToString("N");

    public Task NotifyAsync(SessionEvent sessionEvent, CancellationToken cancellationToken)
    {
        var payload = new JsonObject
        {
            ["level"] = sessionEvent.Type == "error" ? "error" : "info",
            ["logger"] = "oubliette.session",
            ["data"] = JsonSerializer.SerializeToNode(sessionEvent, McpJson.Options),
        };
        return server.SendNotificationAsync("notifications/message", payload, McpJson.Options, cancellationToken);
    }
}
