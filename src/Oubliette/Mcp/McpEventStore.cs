using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Oubliette.Mcp;

#pragma warning disable MCP9006 // The SDK marks its stateful resumability interfaces obsolete; stateful sessions are what initialize-handshake clients use.

/// <summary>
/// Keeps what was sent on each SSE stream of each MCP session (the GET stream of pushes, and each POST's response
/// stream) so that a client whose stream dropped reconnects with <c>Last-Event-ID</c> and gets everything it missed,
/// then the live stream. Bounded, in memory: at most <see cref="MaxBytesPerSession"/> per MCP session and
/// <see cref="MaxBytesTotal"/> in all (oldest events go first), and nothing older than <see cref="Retention"/>.
/// A resume from an event already evicted replays what is still kept (and logs how many were lost).
/// Event ids are <c>&lt;stream&gt;-&lt;sequence&gt;</c>, unique in this process.
/// A POST's response stream keeps its messages as they are, unserialized, while its request runs: when the request
/// ends with its connection intact the client has everything and the events are dropped at once; only when the
/// connection broke are they serialized and kept for a resume. (Serializing every response a second time for a store
/// that almost never replays it cost a tenth of the server's time per tool call.)
/// </summary>
public sealed partial class McpEventStore(ILogger<McpEventStore> logger, IHttpContextAccessor? http = null) : ISseEventStreamStore
{
    public const long MaxBytesPerSession = 4L << 20;
    public const long MaxBytesTotal = 128L << 20;
    public static readonly TimeSpan Retention = TimeSpan.FromMinutes(10);

    /// <summary>Each kept event costs its JSON plus this much bookkeeping.</summary>
    private const int EntryOverhead = 96;

    private readonly Lock _gate = new();
    private readonly Dictionary<long, StreamState> _streams = [];
    private readonly Dictionary<string, SessionState> _sessions = new(StringComparer.Ordinal);
    private readonly Queue<Entry> _all = new();
    private long _nextStream;
    private long _totalBytes;
    private long _evictedQueued;

    /// <summary>Events in the global queue, evicted ones not yet dropped included (for tests).</summary>
    internal int QueuedEntries
    {
        get
        {
            lock (_gate)
            {
                return _all.Count;
            }
        }
    }

    /// <summary>Bytes held now (JSON plus bookkeeping), for tests and metrics.</summary>
    public long TotalBytes
    {
        get
        {
            lock (_gate)
            {
                return _totalBytes;
            }
        }
    }

    public long BytesOf(string sessionId)
    {
        lock (_gate)
        {
            return _sessions.TryGetValue(sessionId, out var session) ? session.Bytes : 0;
        }
    }

    /// <summary>The newest event id of a session's stream (the GET stream is <c>__get__</c>), or null when it kept none.</summary>
    public string? LatestEventId(string sessionId, string streamId)
    {
        lock (_gate)
        {
            var stream = _streams.Values.LastOrDefault(stream => stream.SessionId == sessionId && stream.StreamId == streamId && !stream.Ended);
            return stream is null ? null : $"{stream.Id}-{stream.NextSequence - 1}";
        }
    }

    public ValueTask<ISseEventStreamWriter> CreateStreamAsync(SseEventStreamOptions options, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var stream = new StreamState(++_nextStream, options.SessionId, options.StreamId) { Mode = options.Mode };
            if (options.StreamId != StreamableHttpServerTransport.UnsolicitedMessageStreamId && http?.HttpContext is { } context)
            {
                stream.RequestAborted = context.RequestAborted;
            }

            _streams[stream.Id] = stream;
            return ValueTask.FromResult<ISseEventStreamWriter>(new Writer(this, stream));
        }
    }

    public ValueTask<ISseEventStreamReader?> GetStreamReaderAsync(string lastEventId, CancellationToken cancellationToken = default)
    {
        if (!TryParse(lastEventId, out var streamId, out var sequence))
        {
            return ValueTask.FromResult<ISseEventStreamReader?>(null);
        }

        lock (_gate)
        {
            if (!_streams.TryGetValue(streamId, out var stream) || sequence >= stream.NextSequence)
            {
                return ValueTask.FromResult<ISseEventStreamReader?>(null);
            }

            if (stream.Events.Count > 0 && stream.Events.Peek().Sequence > sequence + 1)
            {
                LogResumeLost(logger, stream.StreamId, stream.Events.Peek().Sequence - sequence - 1);
            }

            return ValueTask.FromResult<ISseEventStreamReader?>(new Reader(this, stream, sequence));
        }
    }

    private static bool TryParse(string eventId, out long stream, out long sequence)
    {
        sequence = 0;
        var dash = eventId.IndexOf('-', StringComparison.Ordinal);
        return long.TryParse(eventId.AsSpan(0, Math.Max(dash, 0)), out stream) & long.TryParse(eventId.AsSpan(dash + 1), out sequence) && dash > 0;
    }

    private SseItem<JsonRpcMessage?> Append(StreamState stream, SseItem<JsonRpcMessage?> item)
    {
        var keepAsIs = stream.RequestAborted is { IsCancellationRequested: false };
        var json = item.Data is null || keepAsIs ? null : Serialize(item.Data);
        TaskCompletionSource changed;
        lock (_gate)
        {
            var sequence = stream.NextSequence++;
            var entry = new Entry(stream, sequence, item.EventType, item.ReconnectionInterval, json, TimeProvider.System.GetUtcNow())
            {
                Message = keepAsIs ? item.Data : null,
            };
            stream.Events.Enqueue(entry);
            if (!keepAsIs)
            {
                Count(entry);
                Settle();
            }

            item = item with { EventId = $"{stream.Id}-{sequence}" };
            changed = stream.Changed;
            stream.Changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
        return item;
    }

    /// <summary>
    /// Puts an event (already in its stream's queue) under the bounds: its session's queue and bytes, the global queue
    /// and total; evicts its session's oldest events while the session is over its bound (lock held).
    /// </summary>
    private void Count(Entry entry)
    {
        if (!_sessions.TryGetValue(entry.Stream.SessionId, out var session))
        {
            _sessions[entry.Stream.SessionId] = session = new SessionState();
        }

        entry.Counted = true;
        session.Events.Enqueue(entry);
        _all.Enqueue(entry);
        session.Bytes += entry.Bytes;
        _totalBytes += entry.Bytes;
        while (session.Bytes > MaxBytesPerSession && session.Events.TryPeek(out var oldest))
        {
            Evict(oldest);
            _evictedQueued++;
        }
    }

    /// <summary>Applies the total and the retention, and compacts the global queue when evicted events crowd it (lock held).</summary>
    private void Settle()
    {
        Trim();
        if (_evictedQueued > 1024 && _evictedQueued > _all.Count / 2)
        {
            // Events evicted by their session's bound stay in the global queue behind an older, live event of another
            // session (for up to the retention): drop them now, or one busy session grows the queue without bound.
            var live = _all.Where(queued => !queued.Evicted).ToList();
            _all.Clear();
            foreach (var queued in live)
            {
                _all.Enqueue(queued);
            }

            _evictedQueued = 0;
        }
    }

    /// <summary>Drops what is over the total, expired, or already evicted from the front of the global queue (lock held).</summary>
    private void Trim()
    {
        var cutoff = TimeProvider.System.GetUtcNow() - Retention;
        while (_all.TryPeek(out var oldest) && (oldest.Evicted || _totalBytes > MaxBytesTotal || oldest.At < cutoff))
        {
            _all.Dequeue();
            if (oldest.Evicted)
            {
                _evictedQueued = Math.Max(0, _evictedQueued - 1);
            }

            Evict(oldest);
        }
    }

    /// <summary>
    /// Removes one event everywhere (lock held). Events mostly leave in order; one that leaves early (a POST stream's,
    /// delivered) stays queued, marked, until the events before it go, so that each queue's front is always live.
    /// </summary>
    private void Evict(Entry entry)
    {
        if (entry.Evicted)
        {
            return;
        }

        entry.Evicted = true;
        entry.Json = null;
        entry.Message = null;
        var stream = entry.Stream;
        DropEvictedFront(stream.Events);
        if (entry.Counted && _sessions.TryGetValue(stream.SessionId, out var session))
        {
            DropEvictedFront(session.Events);
            session.Bytes -= entry.Bytes;
            if (session.Bytes <= 0)
            {
                _sessions.Remove(stream.SessionId);
            }
        }

        if (entry.Counted)
        {
            _totalBytes -= entry.Bytes;
        }

        if (stream.Ended && stream.Events.Count == 0)
        {
            _streams.Remove(stream.Id);
        }
    }

    private static void DropEvictedFront(Queue<Entry> events)
    {
        while (events.TryPeek(out var first) && first.Evicted)
        {
            events.Dequeue();
        }
    }

    private static byte[] Serialize(JsonRpcMessage message) =>
        JsonSerializer.SerializeToUtf8Bytes(message, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage)));

    private void End(StreamState stream)
    {
        if (stream.RequestAborted is not null)
        {
            EndPost(stream);
        }

        TaskCompletionSource changed;
        lock (_gate)
        {
            stream.Ended = true;
            if (stream.Events.Count == 0)
            {
                _streams.Remove(stream.Id);
            }

            changed = stream.Changed;
            Trim();
        }

        changed.TrySetResult();
    }

    /// <summary>
    /// A POST's stream ends: with the connection intact its events were delivered and go; after a break they are
    /// serialized, counted against the bounds and kept for the client's resume.
    /// </summary>
    private void EndPost(StreamState stream)
    {
        List<Entry> held;
        lock (_gate)
        {
            held = [.. stream.Events.Where(entry => !entry.Counted && !entry.Evicted)];
            if (!stream.RequestAborted!.Value.IsCancellationRequested)
            {
                held.ForEach(Evict);
                return;
            }
        }

        var serialized = held.Select(entry => (entry, Json: entry.Message is { } message ? Serialize(message) : null)).ToList();
        lock (_gate)
        {
            foreach (var (entry, json) in serialized.Where(pair => !pair.entry.Evicted))
            {
                entry.Json = json;
                entry.Message = null;
                entry.Bytes += json?.Length ?? 0;
                Count(entry);
            }

            Settle();
        }
    }

    private void SetMode(StreamState stream, SseEventStreamMode mode)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            stream.Mode = mode;
            changed = stream.Changed;
            stream.Changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    [LoggerMessage(EventId = 95, Level = LogLevel.Warning, Message = "a client resumed stream {Stream} after {Lost} of its events were evicted (memory bound); it gets what is kept")]
    private static partial void LogResumeLost(ILogger logger, string stream, long lost);

    private sealed class StreamState(long id, string sessionId, string streamId)
    {
        public long Id { get; } = id;
        public string SessionId { get; } = sessionId;
        public string StreamId { get; } = streamId;
        public Queue<Entry> Events { get; } = new();
        public long NextSequence { get; set; }
        public bool Ended { get; set; }
        public SseEventStreamMode Mode { get; set; }

        /// <summary>A POST's stream (null for the GET stream): its messages are kept unserialized and uncounted until this fires.</summary>
        public CancellationToken? RequestAborted { get; set; }
        public TaskCompletionSource Changed { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class SessionState
    {
        public Queue<Entry> Events { get; } = new();
        public long Bytes { get; set; }
    }

    private sealed class Entry(StreamState stream, long sequence, string? eventType, TimeSpan? retry, byte[]? json, DateTimeOffset at)
    {
        public StreamState Stream { get; } = stream;
        public long Sequence { get; } = sequence;
        public string? EventType { get; } = eventType;
        public TimeSpan? Retry { get; } = retry;
        public byte[]? Json { get; set; } = json;

        /// <summary>The message itself, while its POST stream's connection holds (then <see cref="Json"/> is null).</summary>
        public JsonRpcMessage? Message { get; set; }
        public DateTimeOffset At { get; } = at;
        public long Bytes { get; set; } = (json?.Length ?? 0) + EntryOverhead;
        public bool Evicted { get; set; }

        /// <summary>Under the bounds: in its session's queue and the global one, its bytes counted.</summary>
        public bool Counted { get; set; }
    }

    private sealed class Writer(McpEventStore store, StreamState stream) : ISseEventStreamWriter
    {
        public ValueTask SetModeAsync(SseEventStreamMode mode, CancellationToken cancellationToken = default)
        {
            store.SetMode(stream, mode);
            return ValueTask.CompletedTask;
        }

        public ValueTask<SseItem<JsonRpcMessage?>> WriteEventAsync(SseItem<JsonRpcMessage?> sseItem, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(sseItem.EventId is null ? store.Append(stream, sseItem) : sseItem);

        public ValueTask DisposeAsync()
        {
            store.End(stream);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Reader(McpEventStore store, StreamState stream, long after) : ISseEventStreamReader
    {
        public string SessionId => stream.SessionId;

        public string StreamId => stream.StreamId;

        public async IAsyncEnumerable<SseItem<JsonRpcMessage?>> ReadEventsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            var last = after;

            // First the id the client already has, with no message (like the SDK's priming event): the response starts
            // at once, so a client resuming when nothing was missed is not left waiting for headers until the next push.
            yield return new SseItem<JsonRpcMessage?>(null, SseParser.EventTypeDefault) { EventId = $"{stream.Id}-{after}" };
            while (true)
            {
                List<(Entry Entry, byte[]? Json, JsonRpcMessage? Message)> batch;
                Task changed;
                bool done;
                lock (store._gate)
                {
                    batch = [.. stream.Events.Where(entry => entry.Sequence > last && !entry.Evicted).Select(entry => (entry, entry.Json, entry.Message))];
                    changed = stream.Changed.Task;
                    done = stream.Ended || stream.Mode == SseEventStreamMode.Polling;
                }

                foreach (var (entry, json, kept) in batch)
                {
                    last = entry.Sequence;
                    var message = kept ?? (json is null ? null : (JsonRpcMessage?)JsonSerializer.Deserialize(json, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage))));
                    yield return new SseItem<JsonRpcMessage?>(message, entry.EventType) { EventId = $"{stream.Id}-{entry.Sequence}", ReconnectionInterval = entry.Retry };
                }

                if (batch.Count == 0 && done)
                {
                    yield break;
                }

                if (batch.Count == 0)
                {
                    await changed.WaitAsync(cancellationToken);
                }
            }
        }
    }
}
