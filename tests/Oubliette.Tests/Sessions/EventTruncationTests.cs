using System.Text.Json;
using Oubliette.Agents;
using Oubliette.Mcp;
using Oubliette.Sessions;

namespace Oubliette.Tests.Sessions;

/// <summary>How a cut event looks on the wire, and that a cut event is as small as the limit says.</summary>
public sealed class EventTruncationTests
{
    private static JsonElement Wire(SessionEvent item) =>
        JsonSerializer.SerializeToElement(new SessionToolResult(Events: [item]), McpJson.Options).GetProperty("events")[0];

    [Fact]
    public void A_cut_event_carries_truncated_true_and_an_uncut_one_omits_the_field()
    {
        var text = BoundedText.Truncate(new string('x', 100_000), 65536, out var cut);
        var marked = Wire(new SessionEvent(1, DateTimeOffset.UnixEpoch, "message", "s", Text: text, Truncated: cut ? true : null));
        var plain = Wire(new SessionEvent(2, DateTimeOffset.UnixEpoch, "message", "s", Text: "short"));

        Assert.True(marked.GetProperty("truncated").GetBoolean());
        Assert.Equal(65536, marked.GetProperty("text").GetString()!.Length);
        Assert.False(plain.TryGetProperty("truncated", out _));
    }

    [Fact]
    public void A_ring_of_cut_events_stays_within_its_byte_limit_however_large_the_originals()
    {
        const int maxEventBytes = 65536;
        var ring = new EventRing(1000, byteLimit: 8 * 1024 * 1024);
        for (var count = 0; count < 500; count++)
        {
            var text = BoundedText.Truncate(new string('p', 3_500_000), maxEventBytes, out _);
            ring.Append(index => new SessionEvent(index, DateTimeOffset.UnixEpoch, "message", "s", Text: text, Truncated: true));
        }

        var page = ring.Read(-1, null, maxBytes: 1024 * 1024);

        Assert.True(ring.KeptBytes <= 8 * 1024 * 1024);
        Assert.True(page.Events.Sum(EventRing.SizeOf) <= 1024 * 1024);
        Assert.Equal(15, page.Events.Count);
        Assert.True(page.Dropped == 0 && page.FirstIndex > 0);
    }
}
