using Oubliette.Errors;

namespace Oubliette.Sessions;

/// <summary>
/// The newest events of a session, with monotonic indices. Reading from before the oldest kept event is not an error:
/// the page says how many were dropped. <c>max</c> limits a page without ever skipping an event.
/// </summary>
public sealed class EventRing(int capacity, long firstIndex = 0)
{
    private readonly SessionEvent[] _items = new SessionEvent[capacity];
    private readonly Lock _gate = new();
    private readonly long _start = firstIndex;
    private long _next = firstIndex;
    private TaskCompletionSource? _appended;

    public long NextIndex
    {
        get
        {
            lock (_gate)
            {
                return _next;
            }
        }
    }

    public SessionEvent Append(Func<long, SessionEvent> create)
    {
        lock (_gate)
        {
            var item = create(_next);
            _items[_next % capacity] = item;
            _next++;
            // Only a waiting reader costs the writer anything: no allocation per event while nobody long-polls.
            _appended?.TrySetResult();
            _appended = null;
            return item;
        }
    }

    /// <summary>Completes once an event after <paramref name="lastIndex"/> exists (at once if one already does).</summary>
    public Task WhenAfterAsync(long lastIndex)
    {
        lock (_gate)
        {
            if (_next - 1 > lastIndex)
            {
                return Task.CompletedTask;
            }

            _appended ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _appended.Task;
        }
    }

    public EventPage Read(long sinceIndex, int? max)
    {
        lock (_gate)
        {
            var last = _next - 1;
            if (sinceIndex > last)
            {
                throw new InvalidArgumentException($"since_index {sinceIndex} is beyond the last event index {last} (use -1 for all buffered events)");
            }

            var oldest = Math.Max(_start, _next - capacity);
            var from = sinceIndex < 0 ? oldest : sinceIndex + 1;
            var dropped = from < oldest ? oldest - from : 0;
            from = Math.Max(from, oldest);
            var count = (int)Math.Min(_next - from, max ?? int.MaxValue);
            var events = new SessionEvent[count];
            for (var offset = 0; offset < count; offset++)
            {
                events[offset] = _items[(from + offset) % capacity];
            }

            return new EventPage(events, count > 0 ? events[^1].Index : Math.Max(sinceIndex, from - 1), dropped, oldest);
        }
    }
}
