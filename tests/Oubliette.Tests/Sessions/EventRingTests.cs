using Oubliette.Errors;
using Oubliette.Sessions;

namespace Oubliette.Tests.Sessions;

public sealed class EventRingTests
{
    private static EventRing Filled(int capacity, int count, long firstIndex = 0)
    {
        var ring = new EventRing(capacity, firstIndex);
        for (var item = 0; item < count; item++)
        {
            ring.Append(index => new SessionEvent(index, DateTimeOffset.UnixEpoch, "delta", "s", Text: $"e{index}"));
        }

        return ring;
    }

    [Fact]
    public void All_buffered_events_come_back_in_order_with_the_last_index()
    {
        var page = Filled(10, 4).Read(-1, null);

        Assert.Equal([0L, 1, 2, 3], page.Events.Select(item => item.Index));
        Assert.Equal(3, page.LastIndex);
        Assert.Equal(0, page.Dropped);
    }

    [Fact]
    public void A_cursor_older_than_the_buffer_gets_what_is_left_and_the_number_dropped()
    {
        var page = Filled(5, 12).Read(2, null);

        Assert.Equal([7L, 8, 9, 10, 11], page.Events.Select(item => item.Index));
        Assert.Equal(4, page.Dropped);
        Assert.Equal(7, page.FirstIndex);
    }

    [Fact]
    public void Max_events_pages_never_skip_an_event()
    {
        var ring = Filled(100, 25);
        var seen = new List<long>();
        long cursor = -1;
        while (true)
        {
            var page = ring.Read(cursor, 7);
            if (page.Events.Count == 0)
            {
                break;
            }

            seen.AddRange(page.Events.Select(item => item.Index));
            cursor = page.LastIndex;
        }

        Assert.Equal(Enumerable.Range(0, 25).Select(index => (long)index), seen);
    }

    [Fact]
    public void A_cursor_at_the_last_event_gets_an_empty_page_and_keeps_its_index()
    {
        var page = Filled(10, 3).Read(2, null);

        Assert.Empty(page.Events);
        Assert.Equal(2, page.LastIndex);
    }

    [Fact]
    public void A_cursor_beyond_the_last_event_is_a_clear_error()
    {
        var exception = Assert.Throws<InvalidArgumentException>(() => Filled(10, 3).Read(9, null));

        Assert.Contains("since_index 9 is beyond the last event index 2", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_ring_restarted_at_a_reserved_index_keeps_indices_increasing()
    {
        var page = Filled(10, 3, firstIndex: 10_000).Read(-1, null);

        Assert.Equal([10_000L, 10_001, 10_002], page.Events.Select(item => item.Index));
        Assert.Equal(0, page.Dropped);
    }

    [Fact]
    public async Task A_waiter_wakes_on_the_next_append_and_not_before()
    {
        var ring = Filled(10, 3);

        var waiting = ring.WhenAfterAsync(2);
        await Task.Delay(50);
        var wokeEarly = waiting.IsCompleted;
        ring.Append(index => new SessionEvent(index, DateTimeOffset.UnixEpoch, "delta", "s"));
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.False(wokeEarly);
        Assert.True(ring.WhenAfterAsync(1).IsCompleted);
    }
}
