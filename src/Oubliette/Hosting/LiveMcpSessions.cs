using System.Collections.Concurrent;
using ModelContextProtocol.Server;

namespace Oubliette.Hosting;

/// <summary>
/// The MCP sessions that are running now (from their start to their end, idle expiry included), so that a DELETE of a
/// session that does not exist can be answered 404 as the Streamable HTTP transport says (the SDK answers 200).
/// </summary>
internal sealed class LiveMcpSessions
{
    private readonly ConcurrentDictionary<string, byte> _running = new(StringComparer.Ordinal);

    public bool Contains(string sessionId) => _running.ContainsKey(sessionId);

    /// <summary>Runs an MCP session (the transport's session handler) while keeping its id.</summary>
    public async Task RunAsync(HttpContext context, McpServer server, CancellationToken cancellationToken)
    {
        if (server.SessionId is not { Length: > 0 } id)
        {
            await server.RunAsync(cancellationToken);
            return;
        }

        _running[id] = 0;
        try
        {
            await server.RunAsync(cancellationToken);
        }
        finally
        {
            _running.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// Answers 404 to a DELETE of an MCP session that is not running, and refuses an <c>initialize</c> whose params are
    /// malformed before the SDK opens a session for it (it would hand out an Mcp-Session-Id with its error); everything
    /// else goes on to the SDK.
    /// </summary>
    public async Task GuardDeleteAsync(HttpContext context, Func<Task> next)
    {
        if (HttpMethods.IsPost(context.Request.Method) && context.Request.Path.Equals("/mcp", StringComparison.Ordinal)
            && context.Request.Headers["Mcp-Session-Id"].Count == 0 && context.Request.Body is MemoryStream body
            && MalformedInitialize(body) is { } problem)
        {
            await JsonRpcError.WriteAsync(context, StatusCodes.Status400BadRequest, -32602, problem, context.RequestAborted);
            return;
        }

        if (HttpMethods.IsDelete(context.Request.Method) && context.Request.Path.Equals("/mcp", StringComparison.Ordinal)
            && context.Request.Headers["Mcp-Session-Id"].ToString() is { Length: > 0 } id && !Contains(id)
            // From 2026-07-28 there are no sessions to end: the SDK refuses such a DELETE itself (405).
            && string.CompareOrdinal(context.Request.Headers["MCP-Protocol-Version"].ToString(), "2026-07-28") < 0)
        {
            await JsonRpcError.WriteAsync(context, StatusCodes.Status404NotFound, JsonRpcError.Unauthorized, "Session not found", context.RequestAborted);
            return;
        }

        await next();
    }

    /// <summary>What is wrong with an <c>initialize</c> request's params, or null (also for any other body).</summary>
    private static string? MalformedInitialize(MemoryStream body)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(body.ToArray());
            var root = document.RootElement;
            if (root.ValueKind != System.Text.Json.JsonValueKind.Object || !root.TryGetProperty("method", out var method) || !method.ValueEquals("initialize"))
            {
                return null;
            }

            if (!root.TryGetProperty("params", out var parameters) || parameters.ValueKind != System.Text.Json.JsonValueKind.Object)
            {
                return "initialize: 'params' must be an object with protocolVersion, capabilities and clientInfo";
            }

            if (!parameters.TryGetProperty("protocolVersion", out var version) || version.ValueKind != System.Text.Json.JsonValueKind.String)
            {
                return "initialize: 'params.protocolVersion' must be a string (e.g. \"2025-06-18\")";
            }

            if (!parameters.TryGetProperty("clientInfo", out var client) || client.ValueKind != System.Text.Json.JsonValueKind.Object
                || !client.TryGetProperty("name", out var name) || name.ValueKind != System.Text.Json.JsonValueKind.String)
            {
                return "initialize: 'params.clientInfo' must be an object with a string 'name' and 'version'";
            }

            return parameters.TryGetProperty("capabilities", out var capabilities) && capabilities.ValueKind != System.Text.Json.JsonValueKind.Object
                ? "initialize: 'params.capabilities' must be an object"
                : null;
        }
        catch (System.Text.Json.JsonException)
        {
            // Not JSON: the SDK answers that as a parse error, without a session.
            return null;
        }
        finally
        {
            body.Position = 0;
        }
    }
}
