using Oubliette.Projects;

namespace Oubliette.Agents;

/// <summary>
/// When a project is deleted, its container's gateway credential stops working at once and the connection to its agent
/// closes: nothing the dead container held can still reach the server.
/// </summary>
public sealed class AgentTeardown(GatewayCredentials credentials, IAgentRuntime agents) : IProjectTeardown
{
    public async Task ProjectDeletedAsync(Guid projectId, CancellationToken cancellationToken)
    {
        credentials.Revoke(projectId);
        await agents.CloseAsync(projectId, cancellationToken);
    }
}
