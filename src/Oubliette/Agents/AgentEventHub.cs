namespace Oubliette.Agents;

/// <summary>
/// Where agent runtimes publish what their agents report, and the session layer listens. Decouples the two so that
/// neither constructs the other.
/// </summary>
public sealed class AgentEventHub
{
    private Action<Guid, AgentEvent>? _onEvent;
    private Action<Guid, string>? _onLost;
    private Action<Guid>? _onConnected;

    public void Subscribe(Action<Guid, AgentEvent> onEvent, Action<Guid, string> onLost, Action<Guid> onConnected)
    {
        _onEvent += onEvent;
        _onLost += onLost;
        _onConnected += onConnected;
    }

    /// <summary>The event stream of a project's agent is (again) attached: events from a gap may be missing.</summary>
    public void PublishConnected(Guid projectId) => _onConnected?.Invoke(projectId);

    public void Publish(Guid projectId, AgentEvent agentEvent) => _onEvent?.Invoke(projectId, agentEvent);

    /// <summary>The agent of a project is gone (its container stopped or died); running turns cannot finish.</summary>
    public void PublishLost(Guid projectId, string reason) => _onLost?.Invoke(projectId, reason);
}
