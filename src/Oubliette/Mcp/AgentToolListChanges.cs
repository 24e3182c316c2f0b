using System.Collections.Concurrent;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Oubliette.Sessions;

namespace Oubliette.Mcp;

/// <summary>
/// Tells the agents of a project (their MCP sessions on the gateway) that their tool list changed when caller tools
/// are lent to its sessions or their session ends: OpenCode keeps the tools it listed and lists again on
/// <c>notifications/tools/list_changed</c>.
/// </summary>
internal sealed partial class AgentToolListChanges
{
    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<string, McpServer>> _agents = new();
    private readonly ILogger<AgentToolListChanges> _logger;

    private readonly Hosting.LiveMcpSessions _live;

    public AgentToolListChanges(SessionService sessions, Hosting.LiveMcpSessions live, ILogger<AgentToolListChanges> logger)
    {
        _logger = logger;
        _live = live;
        sessions.CallerToolsChanged += project => _ = NotifyAsync(project);
    }

    /// <summary>How many agent MCP sessions of a project are remembered (for tests).</summary>
    internal int Listening(Guid project) => _agents.TryGetValue(project, out var servers) ? servers.Count : 0;

    /// <summary>Remembers an agent's MCP session (it has listed its tools) to tell it of later changes.</summary>
    public void Listen(Guid project, McpServer server)
    {
        if (server.SessionId is { } id)
        {
            var servers = _agents.GetOrAdd(project, _ => new ConcurrentDictionary<string, McpServer>(StringComparer.Ordinal));
            // MCP sessions that ended are forgotten here, or an agent that opens sessions in a loop (each listing its tools)
            // would have every ended session kept until the project's next caller tool change.
            foreach (var known in servers.Keys)
            {
                if (known != id && !_live.Contains(known))
                {
                    servers.TryRemove(known, out _);
                }
            }

            servers[id] = server;
        }
    }

    private async Task NotifyAsync(Guid project)
    {
        if (!_agents.TryGetValue(project, out var servers))
        {
            return;
        }

        foreach (var (id, server) in servers)
        {
            try
            {
                await server.SendNotificationAsync(NotificationMethods.ToolListChangedNotification, CancellationToken.None);
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                // The agent's MCP session is gone (a new one lists its tools afresh): forget it.
                servers.TryRemove(id, out _);
                LogGone(_logger, id, exception.Message);
            }
        }
    }

    [LoggerMessage(EventId = 91, Level = LogLevel.Debug, Message = "agent MCP session {SessionId} no longer takes tool list changes: {Reason}")]
    private static partial void LogGone(ILogger logger, string sessionId, string reason);
}
