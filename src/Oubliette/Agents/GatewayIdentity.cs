namespace Oubliette.Agents;

/// <summary>Who presents a gateway credential: the project, and the host (container) key within it (see AgentHost.Key).</summary>
public sealed record GatewayIdentity(Guid ProjectId, Guid HostKey);
