using Oubliette.Projects;

namespace Oubliette.Agents;

/// <summary>
/// The coding agent inside a container (an <see cref="AgentHost"/>: the project's, or an isolated workspace's).
/// Events arrive through <see cref="AgentEventHub"/>.
/// </summary>
public interface IAgentRuntime
{
    /// <summary>Container running, agent server answering, event stream attached.</summary>
    Task EnsureAgentAsync(AgentHost host, CancellationToken cancellationToken);

    Task<string> CreateSessionAsync(AgentHost host, string directory, CancellationToken cancellationToken);

    Task PromptAsync(AgentHost host, string agentSessionId, string directory, string text, AgentModel model, PromptOptions options, CancellationToken cancellationToken);

    /// <summary>The agent sessions in this directory that are busy right now (for reconciling after a stream gap).</summary>
    Task<IReadOnlySet<string>> BusySessionsAsync(AgentHost host, string directory, CancellationToken cancellationToken);

    Task AbortAsync(AgentHost host, string agentSessionId, string directory, CancellationToken cancellationToken);

    /// <summary>The project is deleted: drop the connection to its agent now (a runtime that keeps none has nothing to do).</summary>
    Task CloseAsync(Guid projectId, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Drops the connection to a host's agent (its container is being stopped or restarted): running turns are
    /// reported lost with <paramref name="reason"/>, and the next use connects afresh.
    /// </summary>
    Task DisconnectAsync(AgentHost host, string reason);
}
