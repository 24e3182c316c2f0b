using System.Net.ServerSentEvents;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Oubliette.Mcp;

namespace Oubliette.Tests.Mcp;

#pragma warning disable MCP9006 // The SDK marks its stateful resumability interfaces obsolete; stateful sessions are what initialize-handshake clients use.

/// <summary>A POST's response stream: kept as is while its connection holds, dropped when delivered, kept for a resume when broken.</summary>
public sealed class McpEventStorePostStreamTests
{
    private static readonly JsonRpcNotification Progress = new() { Method = "notifications/progress", Params = new JsonObject { ["progress"] = 1 } };

    [Fact]
    public async Task A_post_stream_that_ends_with_its_connection_intact_keeps_nothing()
    {
        using var aborted = new CancellationTokenSource();
        var store = StoreFor(aborted.Token);

        var writer = await store.CreateStreamAsync(new SseEventStreamOptions { SessionId = "s", StreamId = "post-1" }, CancellationToken.None);
        var written = await writer.WriteEventAsync(new SseItem<JsonRpcMessage?>(Progress), CancellationToken.None);
        await writer.WriteEventAsync(new SseItem<JsonRpcMessage?>(Response()), CancellationToken.None);
        Assert.NotNull(written.EventId);
        Assert.Equal(0, store.BytesOf("s"));
        await writer.DisposeAsync();

        Assert.Equal(0, store.TotalBytes);
        Assert.Equal(0, store.QueuedEntries);
        Assert.Null(await store.GetStreamReaderAsync(written.EventId, CancellationToken.None));
    }

    [Fact]
    public async Task A_post_stream_whose_connection_broke_is_kept_counted_and_resumable()
    {
        using var aborted = new CancellationTokenSource();
        var store = StoreFor(aborted.Token);

        var writer = await store.CreateStreamAsync(new SseEventStreamOptions { SessionId = "s", StreamId = "post-1" }, CancellationToken.None);
        var primed = await writer.WriteEventAsync(new SseItem<JsonRpcMessage?>(null), CancellationToken.None);
        await writer.WriteEventAsync(new SseItem<JsonRpcMessage?>(Progress), CancellationToken.None);
        await aborted.CancelAsync();
        await writer.WriteEventAsync(new SseItem<JsonRpcMessage?>(Response()), CancellationToken.None);
        await writer.DisposeAsync();

        Assert.InRange(store.BytesOf("s"), 1, McpEventStore.MaxBytesPerSession);
        var reader = await store.GetStreamReaderAsync(primed.EventId!, CancellationToken.None);
        Assert.NotNull(reader);
        var replayed = new List<JsonRpcMessage?>();
        await foreach (var item in reader.ReadEventsAsync(CancellationToken.None))
        {
            replayed.Add(item.Data);
        }

        // The priming id first (no message), then the progress kept from before the break and the response after it.
        Assert.Collection(
            replayed,
            first => Assert.Null(first),
            progress => Assert.Equal("notifications/progress", Assert.IsType<JsonRpcNotification>(progress).Method),
            response => Assert.Equal(new RequestId(7), Assert.IsType<JsonRpcResponse>(response).Id));
    }

    [Fact]
    public async Task Delivered_post_streams_behind_a_kept_push_leave_nothing_queued()
    {
        using var intact = new CancellationTokenSource();
        var store = StoreFor(intact.Token);

        // The GET stream keeps a push; many POSTs of the same session are delivered and dropped out of order around it.
        await using var get = await store.CreateStreamAsync(new SseEventStreamOptions { SessionId = "s", StreamId = "__get__" }, CancellationToken.None);
        await get.WriteEventAsync(new SseItem<JsonRpcMessage?>(Progress), CancellationToken.None);
        for (var i = 0; i < 10_000; i++)
        {
            var writer = await store.CreateStreamAsync(new SseEventStreamOptions { SessionId = "s", StreamId = $"post-{i}" }, CancellationToken.None);
            await writer.WriteEventAsync(new SseItem<JsonRpcMessage?>(Response()), CancellationToken.None);
            await writer.DisposeAsync();
        }

        Assert.Equal(1, store.QueuedEntries);
        Assert.InRange(store.BytesOf("s"), 1, 4096);
    }

    private static McpEventStore StoreFor(CancellationToken requestAborted)
    {
        var context = new DefaultHttpContext { RequestAborted = requestAborted };
        return new McpEventStore(NullLogger<McpEventStore>.Instance, new HttpContextAccessor { HttpContext = context });
    }

    private static JsonRpcResponse Response() => new() { Id = new RequestId(7), Result = new JsonObject { ["content"] = new JsonArray() } };
}
