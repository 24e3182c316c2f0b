using Microsoft.Extensions.Time.Testing;
using Oubliette.Sessions;

namespace Oubliette.Tests.Sessions;

public sealed class DeltaGatheringTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly EventRing _ring = new(100);

    private void Delta(string text) => _ring.AppendDelta("s", DateTimeOffset.UnixEpoch, text);

    private void Status() => _ring.Append(index => new SessionEvent(index, DateTimeOffset.UnixEpoch, "status", "s", Status: "running"));

    private Task GatherAsync() => new DeltaGathering(_time).WhileGrowingAsync(_ring, CancellationToken.None);

    [Fact]
    public void A_page_that_ends_in_another_kind_of_event_is_not_held()
    {
        Delta("a");
        Status();

        Assert.True(GatherAsync().IsCompleted);
    }

    [Fact]
    public void A_delta_already_read_is_not_held()
    {
        Delta("a");
        _ring.Read(-1, null);

        Assert.True(GatherAsync().IsCompleted);
    }

    [Fact]
    public async Task A_delta_that_stops_growing_is_answered_after_the_quiet_time()
    {
        Delta("a");
        var gathering = GatherAsync();
        var heldAtFirst = !gathering.IsCompleted;

        _time.Advance(DeltaGathering.Quiet);
        await gathering.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.True(heldAtFirst);
        Assert.Equal("a", Assert.Single(_ring.Read(-1, null).Events).Text);
    }

    [Fact]
    public async Task Text_that_keeps_growing_is_gathered_into_one_event_until_the_limit()
    {
        Delta("a");
        var gathering = GatherAsync();
        var steps = 0;
        while (!gathering.IsCompleted && steps < 100)
        {
            Delta("b");
            _time.Advance(DeltaGathering.Quiet);
            steps++;
        }

        await gathering.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal((int)(DeltaGathering.Limit / DeltaGathering.Quiet), steps);
        Assert.Equal("a" + new string('b', steps), Assert.Single(_ring.Read(-1, null).Events).Text);
    }

    [Fact]
    public async Task A_new_delta_event_past_the_merge_limit_keeps_the_hold_going()
    {
        Delta("a");
        var gathering = GatherAsync();
        Delta(new string('x', EventRing.MaxMergedDeltaLength));
        // The wake-up on the new event runs on the thread pool: give it time to (wrongly) end the hold.
        await Task.Delay(50);
        var heldAfterNewEvent = !gathering.IsCompleted;
        // Then step the clock until the hold has seen the quiet time.
        for (var step = 0; step < 500 && !gathering.IsCompleted; step++)
        {
            _time.Advance(DeltaGathering.Quiet);
            await Task.Delay(1);
        }

        await gathering.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.True(heldAfterNewEvent);
        Assert.Equal(2, _ring.Read(-1, null).Events.Count);
    }

    [Fact]
    public async Task Another_kind_of_event_ends_the_hold_at_once_without_waiting_for_quiet()
    {
        Delta("a");
        var gathering = GatherAsync();
        Delta("b");
        Status();
        // No time passes: the status event alone must end the hold.
        await gathering.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(["ab", null], _ring.Read(-1, null).Events.Select(item => item.Text));
    }
}
