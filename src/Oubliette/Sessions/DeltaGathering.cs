namespace Oubliette.Sessions;

/// <summary>
/// Holds a long poll's answer while the newest event is a delta that is still growing, so that the ring merges the
/// stream's text into fewer, larger events.
/// </summary>
/// <remarks>
/// Without it a poller that keeps up with a fast stream pays a whole MCP call (HTTP, auth, JSON both ends) for every
/// sliver of text: thousands of deltas a second became well over a hundred polls of one or two events each. The hold
/// ends as soon as the text stops growing for <see cref="Quiet"/>, another kind of event follows (at once: the agent
/// ends its text with a message event, so the end of a stream is not held for the quiet time), or after
/// <see cref="Limit"/>, so a slow stream's text still arrives a couple of milliseconds after the agent wrote it.
/// </remarks>
public sealed class DeltaGathering(TimeProvider time)
{
    public static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(2);
    public static readonly TimeSpan Limit = TimeSpan.FromMilliseconds(20);

    public async Task WhileGrowingAsync(EventRing events, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var seen = events.UnreadDeltaChanges;
        while (seen is not null && time.GetElapsedTime(started) < Limit)
        {
            var appended = events.WhenAfterAsync(events.NewestIndex);
            await Task.WhenAny(appended, Task.Delay(Quiet, time, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
            var now = events.UnreadDeltaChanges;
            if (now == seen)
            {
                return;
            }

            seen = now;
        }
    }
}
