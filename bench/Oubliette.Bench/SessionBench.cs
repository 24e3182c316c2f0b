using System.Diagnostics;
using ModelContextProtocol.Client;
using Oubliette.Testing;

namespace Oubliette.Bench;

/// <summary>Agent sessions against the real OpenCode in a container, with the scripted model as provider.</summary>
internal static class SessionBench
{
    /// <summary>Only the child spawn latency (an agent calling the gateway's session spawn).</summary>
    public static async Task RunChildrenAsync(int rounds)
    {
        await using var model = await ScriptedModelServer.StartAsync();
        await using var server = await StartServerAsync(model);
        await using var client = await McpTestClient.ConnectAsync(server.McpEndpoint, server.AdminSecret);
        var project = await CreateProjectAsync(client, "bench-children");
        await SpawnMeasuredAsync(client, model, project, newSession: true);
        await ChildSpawnAsync(client, model, project, rounds);
        await client.CallAsync("project", new { action = "delete", project_id = project, force = true });
    }

    /// <summary>
    /// From the parent agent's call of <c>oubliette_session spawn</c> (its tool_call event) to the child's first agent
    /// event, both stamped by the server's clock; the first round warms up and is not counted.
    /// </summary>
    private static async Task ChildSpawnAsync(McpClient client, ScriptedModelServer model, string project, int rounds)
    {
        model.Conversation("BENCH-CHILD", ScriptStep.Reply("child ok"));
        var latencies = new List<double>();
        for (var round = 0; round <= rounds; round++)
        {
            var marker = $"BENCH-PARENT-{round}";
            model.Conversation(marker, ScriptStep.CallTool("oubliette_session", new { action = "spawn", prompt = $"BENCH-CHILD {round}" }), ScriptStep.Reply("parent ok"));
            var spawned = await client.CallAsync("session", new { action = "spawn", project_id = project, prompt = marker, new_session = true });
            var parentId = spawned.Json.GetProperty("session_id").GetString()!;
            await client.CallAsync("session", new { action = "wait", session_id = parentId, until = "idle", timeout_seconds = 60 });
            var childId = (await client.CallAsync("session", new { action = "get", session_id = parentId })).Json.GetProperty("session").GetProperty("children")[0].GetString()!;
            await client.CallAsync("session", new { action = "wait", session_id = childId, until = "idle", timeout_seconds = 60 });
            var parentEvents = (await client.CallAsync("session", new { action = "events", session_id = parentId })).Json.GetProperty("events").EnumerateArray();
            var childEvents = (await client.CallAsync("session", new { action = "events", session_id = childId })).Json.GetProperty("events").EnumerateArray();
            var called = parentEvents.First(item => item.GetProperty("type").GetString() == "tool_call").GetProperty("timestamp").GetDateTimeOffset();
            var first = childEvents.First(item => item.GetProperty("type").GetString() != "status").GetProperty("timestamp").GetDateTimeOffset();
            if (round > 0)
            {
                latencies.Add((first - called).TotalMilliseconds);
            }

            await client.CallAsync("session", new { action = "end", session_id = childId });
            await client.CallAsync("session", new { action = "end", session_id = parentId });
        }

        Console.WriteLine($"child spawn (agent's tool call -> child's first agent event), median of {rounds}: {Statistics.Median(latencies):0} ms "
            + $"(min {latencies.Min():0}, max {latencies.Max():0})");
    }

    /// <summary>Only the event pipeline, several rounds (for profiling the server while it streams).</summary>
    public static async Task RunEventsAsync(int rounds)
    {
        await using var model = await ScriptedModelServer.StartAsync();
        await using var server = await StartServerAsync(model);
        await using var client = await McpTestClient.ConnectAsync(server.McpEndpoint, server.AdminSecret);
        var project = await CreateProjectAsync(client, "bench-events");
        await SpawnMeasuredAsync(client, model, project, newSession: true);
        Console.WriteLine($"server pid {server.Pid}");
        await EventThroughput.RunAsync(client, model, server, project, rounds);
        await PipelineCpuAsync(client, model, server, project);

        await client.CallAsync("project", new { action = "delete", project_id = project, force = true });
    }

    public static async Task RunAsync()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        await using var server = await StartServerAsync(model);
        await using var client = await McpTestClient.ConnectAsync(server.McpEndpoint, server.AdminSecret);
        var project = await CreateProjectAsync(client, "bench-sessions");

        // Cold: no container yet for this project's first session.
        await client.CallAsync("container", new { action = "stop", project_id = project });
        var cold = await SpawnMeasuredAsync(client, model, project, newSession: true);
        Console.WriteLine($"cold spawn (container stopped): first agent event {cold.FirstEvent:0} ms, completion {cold.Completion:0} ms");
        var baseline = await OpenCodeBaseline.ColdFirstEventAsync(model);
        Console.WriteLine($"  OpenCode's own cold start on the host (start -> health -> session -> prompt -> first text event): {baseline:0} ms");

        var firstEvents = new List<double>();
        var completions = new List<double>();
        for (var round = 0; round < 21; round++)
        {
            var warm = await SpawnMeasuredAsync(client, model, project, newSession: false);
            if (round > 0)
            {
                firstEvents.Add(warm.FirstEvent);
                completions.Add(warm.Completion);
            }
        }

        Console.WriteLine($"warm spawn (container running), median of 20: first agent event {Statistics.Median(firstEvents):0} ms, completion {Statistics.Median(completions):0} ms");

        await EventThroughput.RunAsync(client, model, server, project, rounds: 9);
        await PipelineCpuAsync(client, model, server, project);
        await ChildSpawnAsync(client, model, project, rounds: 10);

        var ids = new List<string>();
        for (var index = 0; index < 9; index++)
        {
            model.Enqueue(ScriptStep.Reply("idle now"));
            var spawned = await client.CallAsync("session", new { action = "spawn", project_id = project, prompt = "idle", new_session = true });
            ids.Add(spawned.Json.GetProperty("session_id").GetString()!);
        }

        foreach (var id in ids)
        {
            await client.CallAsync("session", new { action = "wait", session_id = id, until = "idle", timeout_seconds = 60 });
        }

        await Task.Delay(2000);
        Console.WriteLine($"server RSS with 10 idle sessions: {server.ResidentMegabytes():0.0} MB");
        // Leave no container behind: the bench's home is deleted when it ends.
        await client.CallAsync("project", new { action = "delete", project_id = project, force = true });
    }

    /// <summary>Server CPU per event for the pipeline alone: the deltas land in the buffer and nobody polls until the end.</summary>
    private static async Task PipelineCpuAsync(McpClient client, ScriptedModelServer model, ServerUnderTest server, string project)
    {
        const int deltas = 10_000;
        model.Enqueue(ScriptStep.Stream([.. Enumerable.Range(0, deltas).Select(index => $"d{index} ")]));
        var cpuBefore = server.CpuSeconds();
        var spawned = await client.CallAsync("session", new { action = "spawn", project_id = project, prompt = "stream a lot", new_session = true });
        var sessionId = spawned.Json.GetProperty("session_id").GetString()!;
        await client.CallAsync("session", new { action = "wait", session_id = sessionId, until = "idle", timeout_seconds = 120 });
        var cpu = server.CpuSeconds() - cpuBefore;
        await client.CallAsync("session", new { action = "end", session_id = sessionId });
        Console.WriteLine($"server CPU per delta without a poller (spawn to idle, {deltas} deltas): {cpu * 1e6 / deltas:0} us");
    }

    private static async Task<(double FirstEvent, double Completion)> SpawnMeasuredAsync(McpClient client, ScriptedModelServer model, string project, bool newSession)
    {
        model.Enqueue(ScriptStep.Reply("ok"));
        var started = Stopwatch.StartNew();
        var spawned = await client.CallAsync("session", new { action = "spawn", project_id = project, prompt = "reply ok", new_session = newSession });
        if (spawned.IsError)
        {
            throw new InvalidOperationException(spawned.Text);
        }

        var sessionId = spawned.Json.GetProperty("session_id").GetString()!;
        var since = spawned.Json.GetProperty("last_event_index").GetInt64();
        double? first = null;
        while (true)
        {
            var page = await client.CallAsync("session", new { action = "events", session_id = sessionId, since_index = since });
            foreach (var item in page.Json.GetProperty("events").EnumerateArray())
            {
                var type = item.GetProperty("type").GetString();
                if (type is not "status")
                {
                    first ??= started.Elapsed.TotalMilliseconds;
                }

                if (type is "completion" or "error")
                {
                    return (first ?? started.Elapsed.TotalMilliseconds, started.Elapsed.TotalMilliseconds);
                }
            }

            since = page.Json.GetProperty("last_index").GetInt64();
            await Task.Delay(2);
        }
    }

    private static Task<ServerUnderTest> StartServerAsync(ScriptedModelServer model) => ServerUnderTest.StartAsync(_ => $$"""
        {
          "server": { "address": "127.0.0.1:0", "event_buffer_size": 20000 },
          "credentials": { "providers": { "credentials": { "scripted": { "provider": "openai-compatible", "api_key": "bench", "base_url": "{{model.BaseUrl}}" } } } },
          "models": { "models": { "fast": { "model": "scripted", "provider": "scripted" } }, "defaults": { "session_model": "fast" } },
          "defaults": { "rate_limit": { "requests_per_second": 100000, "burst": 100000 }, "limits": { "max_active_sessions_per_project": 50 } },
        }
        """);

    private static async Task<string> CreateProjectAsync(McpClient client, string name)
    {
        var created = await client.CallAsync("project", new { action = "create", name, container_type = "base" });
        return created.Json.GetProperty("project").GetProperty("id").GetString()!;
    }
}
