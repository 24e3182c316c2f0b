using Oubliette.Sessions;

namespace Oubliette.Tests.Sessions;

/// <summary>The ring bounded by bytes as well as by count, and pages bounded by bytes.</summary>
public sealed class EventRingBytesTests
{
    private static SessionEvent Message(long index, int length) =>
        new(index, DateTimeOffset.UnixEpoch, "message", "s", Text: new string('x', length));

    private static long Size(int length) => EventRing.SizeOf(Message(0, length));

    [Fact]
    public void The_oldest_events_are_dropped_when_the_kept_bytes_would_exceed_the_limit()
    {
        var ring = new EventRing(1000, byteLimit: 10 * Size(1000));
        for (var count = 0; count < 25; count++)
        {
            ring.Append(index => Message(index, 1000));
        }

        var page = ring.Read(-1, null);
        var fromStart = ring.Read(4, null);

        Assert.Equal(Enumerable.Range(15, 10).Select(index => (long)index), page.Events.Select(item => item.Index));
        Assert.Equal(15, page.FirstIndex);
        Assert.True(ring.KeptBytes <= 10 * Size(1000));
        Assert.Equal(10, fromStart.Dropped);
        Assert.Equal(15, fromStart.FirstIndex);
        Assert.Equal(15, fromStart.Events[0].Index);
    }

    [Fact]
    public void Count_and_bytes_both_bound_the_ring()
    {
        var ring = new EventRing(5, byteLimit: long.MaxValue);
        for (var count = 0; count < 8; count++)
        {
            ring.Append(index => Message(index, 10));
        }

        var page = ring.Read(-1, null);

        Assert.Equal([3L, 4, 5, 6, 7], page.Events.Select(item => item.Index));
        Assert.Equal(5 * Size(10), ring.KeptBytes);
    }

    [Fact]
    public void A_big_event_pushes_out_many_small_ones_but_is_itself_kept()
    {
        var ring = new EventRing(1000, byteLimit: Size(5000));
        for (var count = 0; count < 20; count++)
        {
            ring.Append(index => Message(index, 10));
        }

        ring.Append(index => Message(index, 5000));
        var page = ring.Read(-1, null);

        Assert.Equal(20, Assert.Single(page.Events).Index);
        Assert.Equal(20, page.FirstIndex);
    }

    [Fact]
    public void Merged_deltas_count_their_growing_text_and_stay_within_the_limit()
    {
        var limit = 4 * Size(EventRing.MaxMergedDeltaLength);
        var ring = new EventRing(1000, byteLimit: limit);
        for (var count = 0; count < 200; count++)
        {
            ring.AppendDelta("s", DateTimeOffset.UnixEpoch, new string('d', 100));
        }

        var page = ring.Read(-1, null);

        Assert.True(ring.KeptBytes <= limit, $"{ring.KeptBytes} > {limit}");
        Assert.True(page.Dropped > 0 || page.FirstIndex > 0);
        Assert.Equal(ring.KeptBytes, page.Events.Sum(EventRing.SizeOf));
        Assert.Equal(ring.NewestIndex, page.LastIndex);
        Assert.All(page.Events, item => Assert.True(item.Text!.Length <= EventRing.MaxMergedDeltaLength));
    }

    [Fact]
    public void Pages_bounded_by_bytes_never_skip_an_event()
    {
        var ring = new EventRing(1000);
        for (var count = 0; count < 30; count++)
        {
            ring.Append(index => Message(index, 100 + (int)(index * 37 % 500)));
        }

        var seen = new List<long>();
        long cursor = -1;
        var pages = 0;
        while (true)
        {
            var page = ring.Read(cursor, null, maxBytes: 2000);
            if (page.Events.Count == 0)
            {
                break;
            }

            Assert.True(page.Events.Sum(EventRing.SizeOf) <= 2000 || page.Events.Count == 1);
            seen.AddRange(page.Events.Select(item => item.Index));
            cursor = page.LastIndex;
            pages++;
        }

        Assert.Equal(Enumerable.Range(0, 30).Select(index => (long)index), seen);
        Assert.True(pages > 5, $"{pages} pages");
    }

    [Fact]
    public void A_page_holds_at_least_one_event_even_when_it_alone_exceeds_the_page_limit()
    {
        var ring = new EventRing(10);
        ring.Append(index => Message(index, 10_000));
        ring.Append(index => Message(index, 10));

        var first = ring.Read(-1, null, maxBytes: 1000);
        var second = ring.Read(first.LastIndex, null, maxBytes: 1000);
        var none = ring.Read(-1, null, maxBytes: 1000, atLeastOne: false);

        Assert.Equal(0, Assert.Single(first.Events).Index);
        Assert.Equal(0, first.LastIndex);
        Assert.Equal(1, Assert.Single(second.Events).Index);
        Assert.Empty(none.Events);
        Assert.Equal(-1, none.LastIndex);
    }
}
