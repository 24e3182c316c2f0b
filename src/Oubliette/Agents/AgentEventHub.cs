using Oubliette.Projects;

namespace Oubliette.Agents;

/// <summary>
/// Where agent runtimes publish what their agents report, and the session layer listens. Decouples the two so that
/// neither constructs the other.
/// </summary>
public sealed class AgentEventHub
{
    private Action<Guid, AgentEvent>? _onEvent;
    private Action<AgentHost, string>? _onLost;
    private Action<AgentHost>? _onConnected;

    public void Subscribe(Action<Guid, AgentEvent> onEvent, Action<AgentHost, string> onLost, Action<AgentHost> onConnected)
    {
        _onEvent += onEvent;
        _onLost += onLost;
        _onConnected += onConnected;
    }

    /// <summary>The event stream of a host's agent is (again) attached: events from a gap may be missing.</summary>
    public void PublishConnected(AgentHost host) => _onConnected?.Invoke(host);

    /// <summary>An event of an agent session of the project (agent session ids are unique across its hosts).</summary>
    public void Publish(Guid projectId, AgentEvent agentEvent) => _onEvent?.Invoke(projectId, agentEvent);

    /// <summary>The agent of a host is gone (its container stopped or died); its running turns cannot finish.</summary>
    public void PublishLost(AgentHost host, string reason) => _onLost?.Invoke(host, reason);
}
