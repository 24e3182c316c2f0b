namespace Oubliette.Sessions;

/// <summary>Someone to push a session's notable events to (an MCP client that spawned, messaged or subscribed).</summary>
public interface ISessionSubscriber
{
    /// <summary>Stable per client, so that the same client is registered once.</summary>
    string Key { get; }

    Task NotifyAsync(SessionEvent sessionEvent, CancellationToken cancellationToken);

    /// <summary>An agent called one of this client's caller tools (logger <c>oubliette.caller_tool</c>).</summary>
    Task NotifyCallerToolRequestAsync(CallerToolRequest request, CancellationToken cancellationToken);
}
