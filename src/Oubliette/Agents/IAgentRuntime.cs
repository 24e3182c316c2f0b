using Oubliette.Projects;

namespace Oubliette.Agents;

/// <summary>The coding agent inside a project's container. Events arrive through <see cref="AgentEventHub"/>.</summary>
public interface IAgentRuntime
{
    /// <summary>Container running, agent server answering, event stream attached.</summary>
    Task EnsureAgentAsync(ProjectMetadata project, CancellationToken cancellationToken);

    Task<string> CreateSessionAsync(ProjectMetadata project, string directory, CancellationToken cancellationToken);

    Task PromptAsync(ProjectMetadata project, string agentSessionId, string directory, string text, AgentModel model, PromptOptions options, CancellationToken cancellationToken);

    /// <summary>The agent sessions in this directory that are busy right now (for reconciling after a stream gap).</summary>
    Task<IReadOnlySet<string>> BusySessionsAsync(ProjectMetadata project, string directory, CancellationToken cancellationToken);

    Task AbortAsync(ProjectMetadata project, string agentSessionId, string directory, CancellationToken cancellationToken);

    /// <summary>The project is deleted: drop the connection to its agent now (a runtime that keeps none has nothing to do).</summary>
    Task CloseAsync(Guid projectId, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Drops the connection to a project's agent (its container is being stopped or restarted): running turns are
    /// reported lost with <paramref name="reason"/>, and the next use connects afresh.
    /// </summary>
    Task DisconnectAsync(Guid projectId, string reason);
}
