using System.Collections.Concurrent;
using Oubliette.Agents;
using Oubliette.Projects;

namespace Oubliette.Testing;

/// <summary>An agent that takes every prompt, unless told to fail; records what it was sent.</summary>
public sealed class FakeAgentRuntime : IAgentRuntime
{
    private int _sessions;

    /// <summary>When set, <see cref="PromptAsync"/> throws it (the prompt never reaches the agent).</summary>
    public Exception? PromptFailure { get; set; }

    public ConcurrentQueue<string> Prompts { get; } = new();
    public ConcurrentQueue<(Guid ProjectId, string Reason)> Disconnects { get; } = new();

    public Task EnsureAgentAsync(AgentHost host, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<string> CreateSessionAsync(AgentHost host, string directory, CancellationToken cancellationToken) =>
        Task.FromResult($"ses_fake{Interlocked.Increment(ref _sessions)}");

    public Task PromptAsync(AgentHost host, string agentSessionId, string directory, string text, AgentModel model, PromptOptions options, CancellationToken cancellationToken)
    {
        if (PromptFailure is { } failure)
        {
            return Task.FromException(failure);
        }

        Prompts.Enqueue(text);
        return Task.CompletedTask;
    }

    public Task<IReadOnlySet<string>> BusySessionsAsync(AgentHost host, string directory, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlySet<string>>(new HashSet<string>(StringComparer.Ordinal));

    public Task AbortAsync(AgentHost host, string agentSessionId, string directory, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task DisconnectAsync(AgentHost host, string reason)
    {
        Disconnects.Enqueue((host.Project.Id, reason));
        return Task.CompletedTask;
    }
}
