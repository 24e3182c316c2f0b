using System.Text;
using Oubliette.Errors;

namespace Oubliette.Sessions;

/// <summary>
/// The newest events of a session, with monotonic indices. Reading from before the oldest kept event is not an error:
/// the page says how many were dropped. <c>max</c> limits a page without ever skipping an event.
/// </summary>
/// <remarks>
/// Consecutive text deltas that nobody has been shown yet are merged into one <c>delta</c> event (up to
/// <see cref="MaxMergedDeltaLength"/> characters): a reader that keeps up sees every delta as it comes, a reader that
/// falls behind gets the same text in fewer events, and a burst of thousands of tiny deltas neither pushes the rest of
/// the turn out of the buffer nor costs a page per delta. An event that has been read, or whose index was handed out as
/// a cursor, never changes again.
/// </remarks>
public sealed class EventRing(int capacity, long firstIndex = 0)
{
    public const int MaxMergedDeltaLength = 4096;

    private readonly SessionEvent[] _items = new SessionEvent[capacity];
    private readonly Lock _gate = new();
    private readonly long _start = firstIndex;
    private long _next = firstIndex;
    private long _shown = firstIndex - 1;
    private TaskCompletionSource? _appended;
    private long _changes;

    // The text of the newest event while deltas are still being merged into it (its stored Text is stale until shown).
    private StringBuilder? _openDelta;

    /// <summary>The index of the newest event (or one before the first), as a cursor for a caller: that event is now fixed.</summary>
    public long TakeCursor()
    {
        lock (_gate)
        {
            CloseDelta();
            _shown = _next - 1;
            return _shown;
        }
    }

    public SessionEvent Append(Func<long, SessionEvent> create)
    {
        lock (_gate)
        {
            CloseDelta();
            return AppendLocked(create(_next));
        }
    }

    /// <summary>
    /// Appends a text delta, or adds its text to the newest event when that is a delta nobody has seen yet.
    /// Returns the new event, or null when the text was merged.
    /// </summary>
    public SessionEvent? AppendDelta(string sessionId, DateTimeOffset timestamp, string text)
    {
        lock (_gate)
        {
            if (_next - 1 > _shown && _items[(_next - 1) % capacity] is { Type: "delta" } newest)
            {
                _openDelta ??= new StringBuilder(newest.Text, MaxMergedDeltaLength);
                if (_openDelta.Length + text.Length <= MaxMergedDeltaLength)
                {
                    _openDelta.Append(text);
                    _changes++;
                    return null;
                }
            }

            CloseDelta();
            return AppendLocked(new SessionEvent(_next, timestamp, "delta", sessionId, text));
        }
    }

    /// <summary>The index of the newest event (one before the first while there is none).</summary>
    public long NewestIndex
    {
        get
        {
            lock (_gate)
            {
                return _next - 1;
            }
        }
    }

    /// <summary>
    /// A count of changes (events appended, deltas merged) while the newest event is a delta nobody has read, which may
    /// still grow; null when it is not.
    /// </summary>
    public long? UnreadDeltaChanges
    {
        get
        {
            lock (_gate)
            {
                return _next - 1 > _shown && _items[(_next - 1) % capacity] is { Type: "delta" } ? _changes : null;
            }
        }
    }

    /// <summary>
    /// Completes once an event after <paramref name="sinceIndex"/> (-1: any buffered event) exists, at once if one
    /// already does.
    /// </summary>
    public Task WhenAfterAsync(long sinceIndex)
    {
        lock (_gate)
        {
            RequireKnown(sinceIndex);
            if (_next - 1 > Math.Max(sinceIndex, _start - 1))
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
            RequireKnown(sinceIndex);
            var oldest = Math.Max(_start, _next - capacity);
            var from = sinceIndex < 0 ? oldest : sinceIndex + 1;
            var dropped = from < oldest ? oldest - from : 0;
            from = Math.Max(from, oldest);
            var count = (int)Math.Min(_next - from, max ?? int.MaxValue);
            if (count > 0 && from + count == _next)
            {
                CloseDelta();
            }

            var events = new SessionEvent[count];
            for (var offset = 0; offset < count; offset++)
            {
                events[offset] = _items[(from + offset) % capacity];
            }

            var lastIndex = count > 0 ? events[^1].Index : Math.Max(sinceIndex, from - 1);
            _shown = Math.Max(_shown, lastIndex);
            return new EventPage(events, lastIndex, dropped, oldest);
        }
    }

    private void RequireKnown(long sinceIndex)
    {
        if (sinceIndex > _next - 1)
        {
            throw new InvalidArgumentException($"since_index {sinceIndex} is beyond the last event index {_next - 1} (use -1 for all buffered events)");
        }
    }

    private SessionEvent AppendLocked(SessionEvent item)
    {
        _items[_next % capacity] = item;
        _next++;
        _changes++;
        // Only a waiting reader costs the writer anything: no allocation per event while nobody long-polls.
        _appended?.TrySetResult();
        _appended = null;
        return item;
    }

    /// <summary>Writes the merged text into the newest event: it is about to be shown, or another event follows it.</summary>
    private void CloseDelta()
    {
        if (_openDelta is null)
        {
            return;
        }

        var slot = (_next - 1) % capacity;
        _items[slot] = _items[slot] with { Text = _openDelta.ToString() };
        _openDelta = null;
    }
}
