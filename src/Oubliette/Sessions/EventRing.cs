using System.Runtime.InteropServices;
using System.Text;
using Oubliette.Errors;

namespace Oubliette.Sessions;

/// <summary>
/// The newest events of a session, with monotonic indices. Reading from before the oldest kept event is not an error:
/// the page says how many were dropped. <c>max</c> limits a page without ever skipping an event.
/// </summary>
/// <remarks>
/// The ring is bounded twice: at most <c>capacity</c> events, and at most <c>byteLimit</c> approximate bytes of them
/// (<see cref="SizeOf"/>): whichever is reached first drops the oldest events, so a session's memory does not grow with
/// the size of what its agent says.
/// <para>
/// Consecutive text deltas that nobody has been shown yet are merged into one <c>delta</c> event (up to
/// <see cref="MaxMergedDeltaLength"/> characters): a reader that keeps up sees every delta as it comes, a reader that
/// falls behind gets the same text in fewer events, and a burst of thousands of tiny deltas neither pushes the rest of
/// the turn out of the buffer nor costs a page per delta. An event that has been read, or whose index was handed out as
/// a cursor, never changes again.
/// </para>
/// </remarks>
/// <param name="capacity">At most this many events are kept.</param>
/// <param name="firstIndex">The index of the first event (after a restart: above every index handed out before).</param>
/// <param name="byteLimit">At most this many approximate bytes of events are kept.</param>
/// <param name="lastBefore">
/// After a restart: the index of the last event the previous run had (null: unknown). The indices between it and
/// <paramref name="firstIndex"/> were reserved but never held an event, so a reader is not told they were dropped.
/// </param>
public sealed class EventRing(int capacity, long firstIndex = 0, long byteLimit = long.MaxValue, long? lastBefore = null)
{
    public const int MaxMergedDeltaLength = 4096;

    /// <summary>What an event costs beyond its strings: index, timestamp, type, session id, the record itself.</summary>
    private const int EventOverhead = 128;

    private readonly SessionEvent?[] _items = new SessionEvent?[capacity];
    private readonly long[] _sizes = new long[capacity];
    private readonly Lock _gate = new();
    private readonly long _start = firstIndex;
    private long _oldest = firstIndex;
    private long _next = firstIndex;
    private long _bytes;
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
                    _sizes[(_next - 1) % capacity] += text.Length;
                    _bytes += text.Length;
                    EvictWhileOver(keepNewest: 1);
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
    /// The index of the newest event that ever existed: in this run, else the previous run's last (-1 when none did);
    /// kept with the session so that the next run knows which reserved indices never held an event.
    /// </summary>
    public long LastExistingIndex
    {
        get
        {
            lock (_gate)
            {
                return _next > _start ? _next - 1 : lastBefore ?? _start - 1;
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

    /// <summary>The approximate bytes of the events kept now.</summary>
    public long KeptBytes
    {
        get
        {
            lock (_gate)
            {
                return _bytes;
            }
        }
    }

    /// <summary>
    /// The events after <paramref name="sinceIndex"/>: at most <paramref name="max"/> of them and no more than
    /// <paramref name="maxBytes"/> approximate bytes (<see cref="SizeOf"/>), but at least one when there is one and
    /// <paramref name="atLeastOne"/> (a page that could never hold the next event would stall its reader).
    /// </summary>
    public EventPage Read(long sinceIndex, int? max, long maxBytes = long.MaxValue, bool atLeastOne = true)
    {
        lock (_gate)
        {
            RequireKnown(sinceIndex);
            var oldest = _oldest;
            var from = sinceIndex < 0 ? oldest : sinceIndex + 1;
            var dropped = from < oldest ? oldest - from : 0;
            if (from < _start && lastBefore is { } last)
            {
                // Indices after the previous run's last event and before this run's first never held an event.
                dropped -= _start - Math.Max(from, last + 1);
            }

            from = Math.Max(from, oldest);
            var count = (int)Math.Min(_next - from, max ?? int.MaxValue);
            long bytes = 0;
            for (var offset = 0; offset < count; offset++)
            {
                bytes += _sizes[(from + offset) % capacity];
                if (bytes > maxBytes && (offset > 0 || !atLeastOne))
                {
                    count = offset;
                    break;
                }
            }

            if (count > 0 && from + count == _next)
            {
                CloseDelta();
            }

            var events = new SessionEvent[count];
            for (var offset = 0; offset < count; offset++)
            {
                // Every index from _oldest to _next - 1 holds an event.
                events[offset] = _items[(from + offset) % capacity]!;
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

    /// <summary>
    /// The approximate bytes an event costs, in memory and on the wire: its strings (one byte a character, as most text
    /// is ASCII) and the UTF-8 of its JSON input, plus a fixed overhead.
    /// </summary>
    public static long SizeOf(SessionEvent item) =>
        EventOverhead + item.Type.Length + item.SessionId.Length + (item.Text?.Length ?? 0) + (item.Tool?.Length ?? 0) + (item.CallId?.Length ?? 0)
        + (item.Output?.Length ?? 0) + (item.Status?.Length ?? 0) + (item.Message?.Length ?? 0)
        + (item.Input is { } input ? JsonMarshal.GetRawUtf8Value(input).Length : 0);

    private SessionEvent AppendLocked(SessionEvent item)
    {
        if (_next - _oldest == capacity)
        {
            EvictOldest();
        }

        var size = SizeOf(item);
        _items[_next % capacity] = item;
        _sizes[_next % capacity] = size;
        _bytes += size;
        _next++;
        EvictWhileOver(keepNewest: 1);
        _changes++;
        // Only a waiting reader costs the writer anything: no allocation per event while nobody long-polls.
        _appended?.TrySetResult();
        _appended = null;
        return item;
    }

    /// <summary>Drops the oldest events while the kept ones exceed the byte limit, always keeping the newest <paramref name="keepNewest"/>.</summary>
    private void EvictWhileOver(int keepNewest)
    {
        while (_bytes > byteLimit && _next - _oldest > keepNewest)
        {
            EvictOldest();
        }
    }

    private void EvictOldest()
    {
        var slot = _oldest % capacity;
        _bytes -= _sizes[slot];
        _items[slot] = null;
        _sizes[slot] = 0;
        _oldest++;
    }

    /// <summary>Writes the merged text into the newest event: it is about to be shown, or another event follows it.</summary>
    private void CloseDelta()
    {
        if (_openDelta is null)
        {
            return;
        }

        var slot = (_next - 1) % capacity;
        // The open delta is the newest event, which eviction never drops.
        _items[slot] = _items[slot]! with { Text = _openDelta.ToString() };
        _openDelta = null;
    }
}
