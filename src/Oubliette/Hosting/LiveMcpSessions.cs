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

    /// <summary>Answers 404 to a DELETE of an MCP session that is not running; everything else goes on to the SDK.</summary>
    public async Task GuardDeleteAsync(HttpContext context, Func<Task> next)
    {
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
}
