using System.Diagnostics;
using System.Text;
using ModelContextProtocol.Client;
using Oubliette.Testing;

namespace Oubliette.Bench;

/// <summary>
/// Event throughput of a stream of 10,000 deltas, in alternating rounds: a client reading OpenCode's own
/// <c>/global/event</c>, and an MCP poller reading the same kind of stream through Oubliette. The two never run at
/// once, so neither reader takes CPU from the other on a small machine. Each rate is OpenCode's deltas over the reader's
/// window: for OpenCode's stream from its first delta event to its last, for Oubliette's from the moment the server took
/// the first delta in (its timestamp) to the moment the poller held the last one's text. Oubliette merges deltas a
/// reader has not caught up with into fewer events, so the poller's side counts the deltas' text it received (checked
/// whole and in order), and prints how many events carried it.
/// </summary>
internal static class EventThroughput
{
    private const int Deltas = 10_000;

    public static async Task RunAsync(McpClient client, ScriptedModelServer model, ServerUnderTest server, string project, int rounds)
    {
        // One round of each warms both paths up; it is printed but not counted.
        var direct = new List<double>();
        var pipeline = new List<double>();
        for (var round = 0; round <= rounds; round++)
        {
            var own = await OpenCodeRoundAsync(client, model, server, project);
            var through = await PipelineRoundAsync(client, model, server, project);
            Console.WriteLine($"  round {round}{(round == 0 ? " (warm-up)" : "")}: {own.Summary}; {through.Summary}");
            if (round > 0)
            {
                direct.Add(own.Rate);
                pipeline.Add(through.Rate);
            }
        }

        var directMedian = Statistics.Median(direct);
        var pipelineMedian = Statistics.Median(pipeline);
        Console.WriteLine($"event throughput, {Deltas} streamed deltas, median of {rounds} rounds each: OpenCode's own /global/event {directMedian:0} deltas/s; "
            + $"through Oubliette to an MCP poller {pipelineMedian:0} deltas/s (ratio {pipelineMedian / directMedian:0.00})");
    }

    private static async Task<(double Rate, string Summary)> OpenCodeRoundAsync(McpClient client, ScriptedModelServer model, ServerUnderTest server, string project)
    {
        model.Enqueue(Stream());
        var socket = Path.Combine(server.Root, "data", "projects", project, "run", "agent.sock");
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var reader = CountOpenCodeDeltasAsync(socket, cancel.Token);
        // The reader must be attached before the agent starts streaming.
        await Task.Delay(300);
        var sessionId = await SpawnAsync(client, project);
        var (window, first) = await reader;
        await client.CallAsync("session", new { action = "wait", session_id = sessionId, until = "idle", timeout_seconds = 120 });
        // The server reads the same stream in this round: when it took the first delta in shows whether this reader kept up.
        var events = await client.CallAsync("session", new { action = "events", session_id = sessionId, since_index = -1 });
        var serverFirst = events.Json.GetProperty("events").EnumerateArray()
            .First(item => item.GetProperty("type").GetString() == "delta").GetProperty("timestamp").GetDateTimeOffset();
        await client.CallAsync("session", new { action = "end", session_id = sessionId });
        var rate = Deltas / window.TotalSeconds;
        return (rate, $"OpenCode's own stream {rate:0} deltas/s (first delta {(first - serverFirst).TotalMilliseconds:0.0} ms after the server's)");
    }

    private static async Task<(double Rate, string Summary)> PipelineRoundAsync(McpClient client, ScriptedModelServer model, ServerUnderTest server, string project)
    {
        model.Enqueue(Stream());
        var cpuBefore = server.CpuSeconds();
        var sessionId = await SpawnAsync(client, project);
        long since = -1;
        var polls = 0;
        var deltaEvents = 0;
        var text = new StringBuilder();
        DateTimeOffset? firstTaken = null;
        var lastHeld = DateTimeOffset.MinValue;
        var largestPage = 0;
        var done = false;
        while (!done)
        {
            var page = await client.CallAsync("session", new { action = "events", session_id = sessionId, since_index = since, max_events = 5000, wait_seconds = 30 });
            var held = DateTimeOffset.UtcNow;
            polls++;
            var events = page.Json.GetProperty("events");
            largestPage = Math.Max(largestPage, events.GetArrayLength());
            foreach (var item in events.EnumerateArray())
            {
                var type = item.GetProperty("type").GetString();
                if (type == "delta")
                {
                    deltaEvents++;
                    text.Append(item.GetProperty("text").GetString());
                    firstTaken ??= item.GetProperty("timestamp").GetDateTimeOffset();
                    lastHeld = held;
                }

                done |= type is "completion" or "error";
            }

            since = page.Json.GetProperty("last_event_index").GetInt64();
        }

        var cpu = server.CpuSeconds() - cpuBefore;
        await client.CallAsync("session", new { action = "end", session_id = sessionId });
        // Every delta OpenCode streamed must have reached the poller, whole and in order, however the events grouped them.
        if (text.ToString() != ExpectedText)
        {
            throw new InvalidOperationException($"the poller's deltas differ from what the model streamed ({text.Length} of {ExpectedText.Length} characters)");
        }

        var window = lastHeld - firstTaken!.Value;
        var rate = Deltas / window.TotalSeconds;
        return (rate, $"through Oubliette {rate:0} deltas/s (all {Deltas} in {deltaEvents} delta events, {polls} polls, largest page {largestPage} events; "
            + $"server CPU {cpu * 1e6 / Deltas:0} us per delta, serving the poller included)");
    }

    private static readonly string[] Pieces = [.. Enumerable.Range(0, Deltas).Select(index => $"d{index} ")];
    private static readonly string ExpectedText = string.Concat(Pieces);

    private static ScriptStep Stream() => ScriptStep.Stream(Pieces);

    private static async Task<string> SpawnAsync(McpClient client, string project)
    {
        var spawned = await client.CallAsync("session", new { action = "spawn", project_id = project, prompt = "stream a lot", new_session = true });
        return spawned.IsError ? throw new InvalidOperationException(spawned.Text) : spawned.Json.GetProperty("session_id").GetString()!;
    }

    /// <summary>
    /// The window over which a client of OpenCode's own stream sees the deltas, first to last, and when it saw the first.
    /// </summary>
    /// <remarks>
    /// The reader blocks on a thread of its own, so the scripted model, which streams from this same process at that
    /// very moment, cannot hold it up. It still sees its first delta tens of milliseconds after the server does (the
    /// round prints by how much) and then reads a backlog: its window, and so OpenCode's own rate, errs on the fast side.
    /// </remarks>
    private static Task<(TimeSpan Window, DateTimeOffset First)> CountOpenCodeDeltasAsync(string socket, CancellationToken cancellationToken)
    {
        var counted = new TaskCompletionSource<(TimeSpan, DateTimeOffset)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var reader = new Thread(() =>
        {
            try
            {
                counted.SetResult(CountOpenCodeDeltas(socket, cancellationToken));
            }
            catch (Exception exception)
            {
                counted.SetException(exception);
            }
        })
        {
            IsBackground = true,
            Name = "opencode-event-reader",
        };
        reader.Start();
        return counted.Task;
    }

    private static (TimeSpan Window, DateTimeOffset First) CountOpenCodeDeltas(string socket, CancellationToken cancellationToken)
    {
        using var http = Oubliette.Agents.OpenCode.UnixSocketHttp.Create(socket);
        using var request = new HttpRequestMessage(HttpMethod.Get, "global/event");
        using var response = http.Send(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        using var stopReading = cancellationToken.Register(response.Dispose);
        using var reader = new StreamReader(response.Content.ReadAsStream(cancellationToken));
        var count = 0;
        var clock = new Stopwatch();
        var first = DateTimeOffset.MinValue;
        while (count < Deltas && reader.ReadLine() is { } line)
        {
            if (line.Contains("\"message.part.delta\"", StringComparison.Ordinal))
            {
                if (count == 0)
                {
                    first = DateTimeOffset.UtcNow;
                    clock.Start();
                }

                count++;
            }
        }

        return count == Deltas ? (clock.Elapsed, first) : throw new InvalidOperationException($"OpenCode's stream ended after {count} deltas");
    }
}
