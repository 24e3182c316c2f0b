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

    private static SessionEvent? Delta(EventRing ring, string text) =>
        ring.AppendDelta("s", DateTimeOffset.UnixEpoch, text);

    private static void Status(EventRing ring) =>
        ring.Append(index => new SessionEvent(index, DateTimeOffset.UnixEpoch, "status", "s", Status: "running"));

    [Fact]
    public void Deltas_nobody_has_read_become_one_event_with_all_their_text()
    {
        var ring = new EventRing(10);
        Status(ring);
        Assert.NotNull(Delta(ring, "Hel"));
        Assert.Null(Delta(ring, "lo "));
        Assert.Null(Delta(ring, "world"));

        var page = ring.Read(-1, null);

        Assert.Equal([0L, 1], page.Events.Select(item => item.Index));
        Assert.Equal("Hello world", page.Events[1].Text);
    }

    [Fact]
    public void A_delta_that_was_read_never_changes_and_the_next_text_is_a_new_event()
    {
        var ring = new EventRing(10);
        Delta(ring, "a");
        Delta(ring, "b");
        var first = ring.Read(-1, null);
        Delta(ring, "c");
        Delta(ring, "d");

        var again = ring.Read(-1, null);

        Assert.Equal("ab", Assert.Single(first.Events).Text);
        Assert.Equal(["ab", "cd"], again.Events.Select(item => item.Text));
        Assert.Equal("cd", Assert.Single(ring.Read(first.LastIndex, null).Events).Text);
    }

    [Fact]
    public void A_cursor_handed_out_fixes_the_newest_event()
    {
        var ring = new EventRing(10);
        Delta(ring, "a");
        var cursor = ring.TakeCursor();
        Delta(ring, "b");

        var page = ring.Read(cursor, null);

        Assert.Equal(0, cursor);
        Assert.Equal("b", Assert.Single(page.Events).Text);
        Assert.Equal("a", ring.Read(-1, null).Events[0].Text);
    }

    [Fact]
    public void Another_event_ends_the_merge_and_keeps_the_merged_text()
    {
        var ring = new EventRing(10);
        Delta(ring, "a");
        Delta(ring, "b");
        Status(ring);
        Delta(ring, "c");

        var page = ring.Read(-1, null);

        Assert.Equal(["delta", "status", "delta"], page.Events.Select(item => item.Type));
        Assert.Equal("ab", page.Events[0].Text);
        Assert.Equal("c", page.Events[2].Text);
    }

    [Fact]
    public void A_merged_delta_stops_growing_at_its_limit_and_no_text_is_lost()
    {
        var ring = new EventRing(100);
        var piece = new string('x', 1000);
        for (var count = 0; count < 10; count++)
        {
            Delta(ring, piece);
        }

        var page = ring.Read(-1, null);

        Assert.All(page.Events, item => Assert.True(item.Text!.Length <= EventRing.MaxMergedDeltaLength));
        Assert.Equal(10_000, page.Events.Sum(item => item.Text!.Length));
        Assert.Equal(3, page.Events.Count);
    }

    [Fact]
    public void A_page_cut_short_by_max_events_leaves_the_newest_delta_open_and_the_rest_arrives_whole()
    {
        var ring = new EventRing(10);
        Status(ring);
        Status(ring);
        Delta(ring, "a");
        var first = ring.Read(-1, 1);
        Delta(ring, "b");

        var rest = ring.Read(first.LastIndex, null);

        Assert.Equal([1L, 2], rest.Events.Select(item => item.Index));
        Assert.Equal("ab", rest.Events[1].Text);
    }

    [Fact]
    public async Task A_waiter_wakes_on_a_new_delta_event()
    {
        var ring = new EventRing(10);
        Delta(ring, "a");
        var cursor = ring.Read(-1, null).LastIndex;

        var waiting = ring.WhenAfterAsync(cursor);
        Delta(ring, "b");
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal("b", Assert.Single(ring.Read(cursor, null).Events).Text);
    }

    [Fact]
    public void Waiting_after_an_index_beyond_the_last_is_an_error_not_a_wait_forever()
    {
        var ring = Filled(10, 3);

        var error = Assert.Throws<InvalidArgumentException>(() => { _ = ring.WhenAfterAsync(7); });
        Assert.Contains("since_index 7 is beyond the last event index 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_ring_restored_after_a_restart_waits_for_its_first_event_from_any_cursor()
    {
        var ring = new EventRing(10, firstIndex: 500);

        var fromStart = ring.WhenAfterAsync(-1);
        var wokeEarly = fromStart.IsCompleted;
        Status(ring);

        Assert.False(wokeEarly);
        Assert.True(fromStart.IsCompleted);
    }
}
