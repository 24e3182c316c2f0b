using System.Collections.Concurrent;
using System.Security.Claims;
using ModelContextProtocol.Server;

namespace Oubliette.Mcp;

/// <summary>
/// A reopened GET on <c>/mcp</c> replaces the session's previous one instead of being refused ("does not support
/// multiple GET requests"): the previous GET of the same MCP session (same token) is closed, and a GET without
/// <c>Last-Event-ID</c> continues the session's push stream from now on (the SDK serves it as a resumption from the newest
/// kept event). A GET with <c>Last-Event-ID</c> first replays what the client missed (<see cref="McpEventStore"/>).
/// Only sessions that negotiated 2025-11-25 or later have resumable streams (the SDK keeps none for older revisions).
/// </summary>
public sealed class McpGetStreamReplacement(RequestDelegate next, McpEventStore store)
{
    private const string SessionHeader = "Mcp-Session-Id";
    private const string LastEventIdHeader = "Last-Event-ID";

    private readonly ConcurrentDictionary<string, (string Token, HttpContext Context)> _open = new(StringComparer.Ordinal);

    public async Task InvokeAsync(HttpContext context)
    {
        if (!HttpMethods.IsGet(context.Request.Method) || !context.Request.Path.Equals("/mcp", StringComparison.Ordinal)
            || context.Request.Headers[SessionHeader].ToString() is not { Length: > 0 } sessionId
            || context.User.FindFirstValue(ClaimTypes.NameIdentifier) is not { } token)
        {
            await next(context);
            return;
        }

        if (_open.TryGetValue(sessionId, out var previous))
        {
            if (previous.Token != token)
            {
                await next(context); // the SDK refuses another token's request for this session
                return;
            }

            previous.Context.Abort();
        }

        if (string.IsNullOrEmpty(context.Request.Headers[LastEventIdHeader].ToString())
            && store.LatestEventId(sessionId, StreamableHttpServerTransport.UnsolicitedMessageStreamId) is { } latest)
        {
            context.Request.Headers[LastEventIdHeader] = latest;
        }

        var mine = (token, context);
        _open[sessionId] = mine;
        try
        {
            await next(context);
        }
        finally
        {
            _open.TryRemove(KeyValuePair.Create(sessionId, mine));
        }
    }
}
