using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using ModelContextProtocol.Client;
using Oubliette.Testing;

namespace Oubliette.Bench;

/// <summary>
/// Event throughput of a stream of 10,000 deltas, in rounds of five readers, one at a time on a quiet machine so none
/// takes CPU from another. Four read OpenCode's own <c>/global/event</c> stream as its only subscriber: OpenCode on the
/// host (the scripted model its provider) and a second OpenCode in the project container (models through the gateway,
/// reached through the same relay and unix socket as Oubliette's own), each once counting the delta events' bytes and
/// once reading them as a client does (HttpClient, each event's JSON parsed, the text kept). The fifth is an MCP poller
/// reading the same kind of stream through Oubliette. Each rate is the deltas over the reader's window: for OpenCode's
/// stream from its first delta event to its last, for Oubliette's from the moment the server took the first delta in
/// (its timestamp) to the moment the poller held the last one's text. The readers that keep the text check it is whole
/// and in order; Oubliette merges deltas a reader has not caught up with into fewer events, so the poller's summary says
/// how many events carried them.
/// </summary>
/// <remarks>
/// OpenCode writes its events to one subscriber after another, so a client reading the stream of the OpenCode that
/// Oubliette itself reads gets its deltas tens of milliseconds late and then as a ready backlog: a window that says
/// nothing of OpenCode's rate. Hence OpenCode instances whose client is the first and only reader. The end-to-end figure
/// (model starts answering to reader holds the last delta) is printed for the whole picture; only the container's
/// OpenCode has the same path from the model as Oubliette's.
/// </remarks>
internal static class EventThroughput
{
    private const int Deltas = 10_000;
    private const int WarmUpRounds = 5;
    private static readonly TimeSpan Settling = TimeSpan.FromSeconds(10);

    public static async Task RunAsync(McpClient client, ScriptedModelServer model, ServerUnderTest server, string project, int rounds)
    {
        using var host = await HostOpenCode.InstallAsync(model);
        await using var hostOpenCode = await host.StartAsync();
        var projectId = Guid.Parse(project);
        await using var containerOpenCode = await ContainerOpenCode.StartAsync(projectId, server.ProjectAgentSocketDirectory(projectId));
        // The first rounds are printed but not counted: the server's code is still being tiered up by the JIT in its
        // first minutes (its compiler thread was 45 % of its CPU 2-3 minutes in), and a server that has run a while is
        // the one to measure.
        var readers = new Reader[]
        {
            new("host, counted", ReadsEvents: false, () => OpenCodeRoundAsync(hostOpenCode, model, parse: false)),
            new("host, read", ReadsEvents: true, () => OpenCodeRoundAsync(hostOpenCode, model, parse: true)),
            new("container, counted", ReadsEvents: false, () => OpenCodeRoundAsync(containerOpenCode, model, parse: false)),
            new("container, read", ReadsEvents: true, () => OpenCodeRoundAsync(containerOpenCode, model, parse: true)),
            new("through Oubliette", ReadsEvents: true, () => PipelineRoundAsync(client, model, server, project)),
        };
        var counted = readers.Select(_ => new List<Round>()).ToArray();
        for (var round = 1 - WarmUpRounds; round <= rounds; round++)
        {
            var results = new List<Round>();
            foreach (var reader in readers)
            {
                await MachineQuiet.WaitAsync(Settling);
                results.Add(await reader.ReadAsync());
            }

            Console.WriteLine($"  round {round}{(round <= 0 ? " (warm-up)" : "")}:");
            for (var index = 0; index < readers.Length; index++)
            {
                Console.WriteLine($"    {readers[index].Name}: {results[index].Summary}");
                if (round > 0)
                {
                    counted[index].Add(results[index]);
                }
            }
        }

        Console.WriteLine($"event throughput, {Deltas} streamed deltas, median of {rounds} rounds each after {WarmUpRounds} warm-up rounds:");
        Console.WriteLine("  OpenCode's own /global/event stream, its only subscriber: on the host (the scripted model its provider), and in the project container"
            + " (a second OpenCode beside Oubliette's, models through the gateway, reached through the same socat relay and unix socket as Oubliette's own);"
            + " counted = a socket and a byte search, read = HttpClient and each event's JSON parsed");
        var windows = Report("reader's window (OpenCode: its first delta -> its last; Oubliette: server takes the first in -> poller holds the last)", readers, counted, round => round.WindowRate);
        // The issue's target: a client reading OpenCode's own stream reads its events, so it is measured against the
        // readers that parse them; the byte counts show how fast OpenCode writes, not a rate any client of events sees.
        var clients = Enumerable.Range(0, readers.Length - 1).Where(index => readers[index].ReadsEvents).ToArray();
        var lowest = clients.Min(index => windows[^1] / windows[index]);
        Console.WriteLine($"    target, Oubliette >= 0.9x the rate a client reading OpenCode's own stream sees ({string.Join(" and ", clients.Select(index => readers[index].Name))}): "
            + $"{(lowest >= 0.9 ? "met" : "not met")}, lowest ratio {lowest:0.00}");
        Report("end to end (model starts answering -> reader holds the last delta)", readers, counted, round => round.EndToEndRate);
    }

    /// <summary>Prints each reader's median rate and the pipeline's ratio to it; returns the medians, the pipeline's last.</summary>
    private static double[] Report(string measure, Reader[] readers, List<Round>[] counted, Func<Round, double> rate)
    {
        var medians = counted.Select(rounds => Statistics.Median([.. rounds.Select(rate)])).ToArray();
        var pipeline = medians[^1];
        Console.WriteLine($"  {measure}:");
        for (var index = 0; index < readers.Length - 1; index++)
        {
            Console.WriteLine($"    OpenCode's own, {readers[index].Name}: {medians[index]:0} deltas/s; Oubliette's {pipeline:0} is {pipeline / medians[index]:0.00}x this");
        }

        Console.WriteLine($"    {readers[^1].Name} to an MCP poller: {pipeline:0} deltas/s");
        return medians;
    }

    /// <summary>One reader of a round; <paramref name="ReadsEvents"/>: it parses each event, as a client of events does.</summary>
    private sealed record Reader(string Name, bool ReadsEvents, Func<Task<Round>> ReadAsync);

    private sealed record Round(double WindowRate, double EndToEndRate, string Summary);

    private static async Task<Round> OpenCodeRoundAsync(IOpenCodeServer openCode, ScriptedModelServer model, bool parse)
    {
        var answering = EnqueueStreamAsync(model);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var reader = RunOnOwnThreadAsync(() => parse ? ReadOpenCodeDeltas(openCode, cancel.Token) : CountOpenCodeDeltas(openCode.EndPoint, cancel.Token));
        // The reader must be attached before the agent starts streaming.
        await Task.Delay(300);
        await openCode.PromptNewSessionAsync("stream a lot");
        var (first, last) = await reader;
        var started = await answering;
        var window = Deltas / (last - first).TotalSeconds;
        return new(window, Deltas / (last - started).TotalSeconds, $"{window:0} deltas/s "
            + $"({(last - first).TotalMilliseconds:0} ms; first delta {(first - started).TotalMilliseconds:0} ms after the model started)");
    }

    private static async Task<Round> PipelineRoundAsync(McpClient client, ScriptedModelServer model, ServerUnderTest server, string project)
    {
        var answering = EnqueueStreamAsync(model);
        var cpuBefore = server.CpuSeconds();
        var sessionId = await SpawnAsync(client, project);
        long since = -1;
        var polls = 0;
        var deltaEvents = 0;
        var text = new StringBuilder();
        DateTimeOffset? firstTaken = null;
        DateTimeOffset? allTaken = null;
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
                else if (type == "message" && firstTaken is not null)
                {
                    // OpenCode sends the finished text right after its last delta: when the server had all of it.
                    allTaken ??= item.GetProperty("timestamp").GetDateTimeOffset();
                }

                done |= type is "completion" or "error";
            }

            since = page.Json.GetProperty("last_index").GetInt64();
        }

        var cpu = server.CpuSeconds() - cpuBefore;
        await client.CallAsync("session", new { action = "end", session_id = sessionId });
        // Every delta OpenCode streamed must have reached the poller, whole and in order, however the events grouped them.
        if (text.ToString() != ExpectedText)
        {
            throw new InvalidOperationException($"the poller's deltas differ from what the model streamed ({text.Length} of {ExpectedText.Length} characters)");
        }

        var started = await answering;
        var window = Deltas / (lastHeld - firstTaken!.Value).TotalSeconds;
        var taking = allTaken is { } all ? $"the server took them in over {(all - firstTaken.Value).TotalMilliseconds:0} ms, the poller held the last {(lastHeld - all).TotalMilliseconds:0} ms later; " : "";
        return new(window, Deltas / (lastHeld - started).TotalSeconds, $"{window:0} deltas/s ({(lastHeld - firstTaken.Value).TotalMilliseconds:0} ms: {taking}"
            + $"first delta taken in {(firstTaken.Value - started).TotalMilliseconds:0} ms after the model started; all {Deltas} in {deltaEvents} delta events, {polls} polls, "
            + $"largest page {largestPage} events; server CPU {cpu * 1e6 / Deltas:0} us per delta, serving the poller included)");
    }

    private static readonly string[] Pieces = [.. Enumerable.Range(0, Deltas).Select(index => $"d{index} ")];
    private static readonly string ExpectedText = string.Concat(Pieces);

    /// <summary>Queues the 10,000-delta answer; the task tells when the model started to stream it.</summary>
    private static Task<DateTimeOffset> EnqueueStreamAsync(ScriptedModelServer model)
    {
        var answering = new TaskCompletionSource<DateTimeOffset>(TaskCreationOptions.RunContinuationsAsynchronously);
        model.Enqueue(ScriptStep.Stream(Pieces) with { Answering = () => answering.TrySetResult(DateTimeOffset.UtcNow) });
        return answering.Task;
    }

    private static async Task<string> SpawnAsync(McpClient client, string project)
    {
        var spawned = await client.CallAsync("session", new { action = "spawn", project_id = project, prompt = "stream a lot", new_session = true });
        return spawned.IsError ? throw new InvalidOperationException(spawned.Text) : spawned.Json.GetProperty("session_id").GetString()!;
    }

    /// <summary>
    /// Runs a reader of OpenCode's own stream on a thread of its own: the scripted model, which streams from this same
    /// process at that very moment, cannot hold it up.
    /// </summary>
    private static Task<(DateTimeOffset First, DateTimeOffset Last)> RunOnOwnThreadAsync(Func<(DateTimeOffset, DateTimeOffset)> read)
    {
        var done = new TaskCompletionSource<(DateTimeOffset, DateTimeOffset)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var reader = new Thread(() =>
        {
            try
            {
                done.SetResult(read());
            }
            catch (Exception exception)
            {
                done.SetException(exception);
            }
        })
        {
            IsBackground = true,
            Name = "opencode-event-reader",
        };
        reader.Start();
        return done.Task;
    }

    /// <summary>
    /// What a client of OpenCode's own stream does to use the deltas: reads the events with HttpClient and parses each
    /// one's JSON, keeps the text (checked whole and in order), and notes when it held the first delta and the last;
    /// returns once the turn is over.
    /// </summary>
    private static (DateTimeOffset First, DateTimeOffset Last) ReadOpenCodeDeltas(IOpenCodeServer openCode, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "global/event");
        using var response = openCode.Http.Send(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        using var stopReading = cancellationToken.Register(response.Dispose);
        using var reader = new StreamReader(response.Content.ReadAsStream(cancellationToken));
        var text = new StringBuilder();
        var count = 0;
        var first = DateTimeOffset.MinValue;
        var last = DateTimeOffset.MinValue;
        while (reader.ReadLine() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }

            using var data = JsonDocument.Parse(line.AsMemory(6));
            var payload = data.RootElement.GetProperty("payload");
            var type = payload.GetProperty("type").GetString();
            if (type == "message.part.delta")
            {
                text.Append(payload.GetProperty("properties").GetProperty("delta").GetString());
                first = count == 0 ? DateTimeOffset.UtcNow : first;
                count++;
                last = count == Deltas ? DateTimeOffset.UtcNow : last;
            }
            else if (type == "session.idle" && count == Deltas)
            {
                return text.ToString() == ExpectedText ? (first, last) : throw new InvalidOperationException("the text read from OpenCode's stream differs from what the model streamed");
            }
        }

        throw new InvalidOperationException($"OpenCode's stream ended after {count} deltas");
    }

    /// <summary>
    /// The fastest possible reader of OpenCode's own stream, for its rate at its best: a plain socket and a byte search,
    /// nothing parsed. Notes when it saw the first delta and the last; returns once the turn is over.
    /// </summary>
    private static (DateTimeOffset First, DateTimeOffset Last) CountOpenCodeDeltas(EndPoint openCode, CancellationToken cancellationToken)
    {
        using var socket = new Socket(openCode.AddressFamily, SocketType.Stream, openCode is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        using var stopReading = cancellationToken.Register(socket.Dispose);
        socket.Connect(openCode);
        socket.Send("GET /global/event HTTP/1.1\r\nHost: opencode\r\nAccept: text/event-stream\r\n\r\n"u8);
        var delta = "\"message.part.delta\""u8.ToArray();
        var idle = "\"session.idle\""u8.ToArray();
        var buffer = new byte[64 * 1024];
        var carried = 0;
        var count = 0;
        var first = DateTimeOffset.MinValue;
        var last = DateTimeOffset.MinValue;
        while (true)
        {
            var read = socket.Receive(buffer.AsSpan(carried));
            if (read == 0)
            {
                throw new InvalidOperationException($"OpenCode's stream ended after {count} deltas");
            }

            var filled = carried + read;
            var seen = buffer.AsSpan(0, filled);
            var found = 0;
            while (seen.IndexOf(delta) is var at and >= 0)
            {
                found++;
                seen = seen[(at + delta.Length)..];
            }

            if (found > 0)
            {
                first = count == 0 ? DateTimeOffset.UtcNow : first;
                count += found;
                last = count == Deltas ? DateTimeOffset.UtcNow : last;
            }

            if (count == Deltas && seen.IndexOf(idle) >= 0)
            {
                return (first, last);
            }

            // A marker cut by the end of this read is completed by the next one.
            carried = Math.Min(seen.Length, Math.Max(delta.Length, idle.Length) - 1);
            buffer.AsSpan(filled - carried, carried).CopyTo(buffer);
        }
    }
}
