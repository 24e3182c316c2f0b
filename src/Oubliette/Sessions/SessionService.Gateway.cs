namespace Oubliette.Sessions;

public sealed partial class SessionService
{
    /// <summary>
    /// The agent session a gateway model call is billed to, or the reason it is refused: the call must name (in
    /// OpenCode's <c>x-session-id</c>) a live session of the calling container's project. OpenCode's own subagents (its
    /// task tool) run in agent sessions Oubliette never created; their calls name the parent in
    /// <c>x-parent-session-id</c> and are billed to it. Unknown ids, another project's sessions and ended sessions are refused.
    /// </summary>
    /// <remarks>With workspace_isolation the session must also run in the calling container (its workspace's host).</remarks>
    public (string? AgentSessionId, string? Refusal) GatewaySession(Guid projectId, Guid hostKey, string? agentSessionId, string? parentAgentSessionId)
    {
        if (string.IsNullOrEmpty(agentSessionId))
        {
            return (null, "model calls through the gateway must carry x-session-id naming a live session of this container's project");
        }

        var session = FindAgentSession(projectId, hostKey, agentSessionId)
            ?? (string.IsNullOrEmpty(parentAgentSessionId) ? null : FindAgentSession(projectId, hostKey, parentAgentSessionId));
        if (session is null)
        {
            return (null, $"x-session-id '{Shown(agentSessionId)}' is not a session of this container's project; model calls are served only for its live sessions");
        }

        var metadata = session.Metadata;
        if (!metadata.Ended)
        {
            return (metadata.AgentSessionId, null);
        }

        // A tree stopped by its budget keeps the budget's own refusal (BudgetRefusal).
        var (cost, limit) = TreeCost(session);
        return cost >= limit && limit > 0
            ? (metadata.AgentSessionId, null)
            : (null, $"session {metadata.SessionId} has ended ({metadata.Status}); its agent may make no more model calls");
    }

    /// <summary>
    /// The gateway could not take a model call of this session (its conversation is over the request cap): the session
    /// is told why, its agent's turn is aborted, and it ends as failed instead of retrying forever.
    /// </summary>
    public void FailFromGateway(Guid projectId, Guid hostKey, string? agentSessionId, string error)
    {
        if (string.IsNullOrEmpty(agentSessionId) || FindAgentSession(projectId, hostKey, agentSessionId) is not { } session || session.Metadata.Ended)
        {
            return;
        }

        Emit(session, "error", message: error);
        _ = AbortLoggedAsync(session);
        Finish(session, SessionStatus.Failed, error);
        _ = PersistLoggedAsync(session);
    }

    /// <summary>The root of the tree a live agent session belongs to (what <c>max_cost_usd</c> covers), or null.</summary>
    public string? RootOfAgentSession(Guid projectId, string agentSessionId) =>
        _byAgentSession.TryGetValue((projectId, agentSessionId), out var session) ? session.Metadata.RootSessionId : null;

    private LiveSession? FindAgentSession(Guid projectId, Guid hostKey, string agentSessionId) =>
        _byAgentSession.TryGetValue((projectId, agentSessionId), out var session) && HostKeyOf(session.Metadata) == hostKey ? session : null;

    /// <summary>The key of the container a session runs in (<see cref="Projects.AgentHost.Key"/>).</summary>
    private Guid HostKeyOf(SessionMetadata session) =>
        _projects.TryGetCached(session.ProjectId) is { WorkspaceIsolation: true } ? session.WorkspaceId : session.ProjectId;

    private static string Shown(string value) => value.Length > 80 ? value[..80] + "…" : value;
}
