namespace Oubliette.Sessions;

/// <summary>Someone to push a session's notable events to (an MCP client that spawned, messaged or subscribed).</summary>
public interface ISessionSubscriber
{
    /// <summary>Stable per client, so that the same client is registered once.</summary>
    string Key { get; }

    Task NotifyAsync(SessionEvent sessionEvent, CancellationToken cancellationToken);

    /// <summary>Which events are pushed (text deltas never are): by default tool_call, tool_result, completion and error.</summary>
    bool Wants(string type) => type is "tool_call" or "tool_result" or "completion" or "error";

    /// <summary>An agent called one of this client's caller tools (logger <c>oubliette.caller_tool</c>).</summary>
    Task NotifyCallerToolRequestAsync(CallerToolRequest request, CancellationToken cancellationToken);
}
