using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Server;
using Oubliette.Sessions;

namespace Oubliette.Mcp;

/// <summary>Pushes a session's notable events to one MCP client as <c>notifications/message</c> (logger <c>oubliette.session</c>).</summary>
internal sealed class McpSessionSubscriber(McpServer server) : ISessionSubscriber
{
    public string Key { get; } = KeyOf(server);

    /// <summary>The MCP session of a client: who lent caller tools, and who alone may answer their requests.</summary>
    public static string KeyOf(McpServer server) => server.SessionId ?? throw new Errors.ForbiddenException(NoSession);

    /// <summary>
    /// The pushes of a client with a stateful MCP session (the initialize handshake, 2024-11-05 … 2025-11-25); null for a
    /// 2026-07-28 client, which has no session to push to (it subscribes with <c>subscriptions/listen</c> instead) and so
    /// cannot lend caller tools.
    /// </summary>
    public static McpSessionSubscriber? OfSession(McpServer server, bool lendsTools) =>
        server.SessionId is not null ? new McpSessionSubscriber(server)
        : lendsTools ? throw new Errors.InvalidArgumentException($"caller_tools: {NoSession}")
        : null;

    private const string NoSession = "caller tools need a stateful MCP session (the initialize handshake, protocol 2024-11-05 … 2025-11-25); "
        + "a 2026-07-28 client has none to receive caller_tool_request on";

    public Task NotifyAsync(SessionEvent sessionEvent, CancellationToken cancellationToken)
    {
        var level = sessionEvent.Type == "error" ? "error" : "info";
        if (!ClientLogLevel.Allows(server, level))
        {
            // The client asked for less with logging/setLevel; it reads the event with session events.
            return Task.CompletedTask;
        }

        var payload = new JsonObject
        {
            ["level"] = level,
            ["logger"] = "oubliette.session",
            ["data"] = JsonSerializer.SerializeToNode(sessionEvent, McpJson.Options),
        };
        return server.SendNotificationAsync("notifications/message", payload, McpJson.Options, cancellationToken);
    }

    /// <summary>A caller tool request is not a log line: it is sent whatever level the client set, as it waits for an answer.</summary>
    public Task NotifyCallerToolRequestAsync(CallerToolRequest request, CancellationToken cancellationToken)
    {
        var data = JsonSerializer.SerializeToNode(request, McpJson.Options)!.AsObject();
        data["type"] = "caller_tool_request";
        var payload = new JsonObject { ["level"] = "info", ["logger"] = "oubliette.caller_tool", ["data"] = data };
        return server.SendNotificationAsync("notifications/message", payload, McpJson.Options, cancellationToken);
    }
}
