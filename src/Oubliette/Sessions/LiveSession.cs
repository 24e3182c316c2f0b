using System.Collections.Concurrent;
using System.Text;

namespace Oubliette.Sessions;

/// <summary>A session in memory: its metadata, its event buffer, who to push to, and a signal for waiters.</summary>
internal sealed class LiveSession(SessionMetadata metadata, EventRing events)
{
    public Lock Gate { get; } = new();
    public SessionMetadata Metadata { get; set; } = metadata;
    public EventRing Events { get; } = events;
    public ConcurrentDictionary<string, ISessionSubscriber> Subscribers { get; } = new(StringComparer.Ordinal);
    public SemaphoreSlim PersistGate { get; } = new(1, 1);
    public StringBuilder TurnText { get; } = new();

    /// <summary>The agent's last message was cut to server.max_event_bytes (its completion says so too).</summary>
    public bool TurnTextTruncated { get; set; }
    public bool TurnFailed { get; set; }

    /// <summary>The client whose tools this session's agent may call (in memory: a caller does not outlive a restart).</summary>
    public CallerBinding? Caller { get; set; }

    /// <summary>The agent has the current turn's prompt; only then can "not busy" mean "finished".</summary>
    public bool PromptDelivered { get; set; }
    public (long In, long Out, double Cost) TurnStart { get; set; }
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next state change.</summary>
    public Task Changed
    {
        get
        {
            lock (Gate)
            {
                return _changed.Task;
            }
        }
    }

    /// <summary>Wakes every waiter; call with <see cref="Gate"/> held.</summary>
    public void SignalChange()
    {
        var previous = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        previous.TrySetResult();
    }
}
