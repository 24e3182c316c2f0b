using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>
/// Calls from an agent to Oubliette that last longer than an MCP client's usual timeout: a 30 s wait for a child and a
/// caller tool answered after 20 s both succeed (the generated opencode.json gives the gateway more than either).
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class LongCallTests(DockerEnvironment docker) : IAsyncLifetime
{
    private SessionFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await SessionFixture.StartAsync(docker);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    private static JsonElement LastOf(List<JsonElement> events, string type, string tool) =>
        events.Last(item => item.GetProperty("type").GetString() == type && item.TryGetProperty("tool", out var name) && name.GetString() == tool);

    private static bool IsError(JsonElement result) => result.TryGetProperty("is_error", out var flag) && flag.GetBoolean();

    private static string Completion(List<JsonElement> events) =>
        events.Last(item => item.GetProperty("type").GetString() == "completion").GetProperty("text").GetString()!;

    private static TimeSpan Took(List<JsonElement> events, string tool) =>
        LastOf(events, "tool_result", tool).GetProperty("timestamp").GetDateTimeOffset() - LastOf(events, "tool_call", tool).GetProperty("timestamp").GetDateTimeOffset();

    [Fact]
    public async Task An_agent_waits_30_s_for_a_child_and_the_wait_succeeds()
    {
        _fixture.Model.Conversation("LONG-PARENT",
            ScriptStep.CallTool("oubliette_session", new { action = "spawn", prompt = "SLOW-CHILD: take your time" }),
            ScriptStep.From(request => request.SessionIdsInLastToolResult is [var child, ..]
                ? ScriptStep.CallTool("oubliette_session", new { action = "wait", session_id = child, until = "idle", timeout_seconds = 45 })
                : ScriptStep.Reply("no child id in: " + request.LastToolResult)),
            ScriptStep.Reply("my slow child finished"));
        _fixture.Model.Conversation("SLOW-CHILD",
            ScriptStep.CallTool("bash", new { command = "sleep 30 && echo slept", description = "take 30 s" }),
            ScriptStep.Reply("slept 30 s"));

        var parentId = await _fixture.SpawnAsync("LONG-PARENT: delegate to a slow child");
        await _fixture.WaitAsync(parentId, "idle", 180);
        var events = await _fixture.EventsAsync(parentId);
        var results = events.Where(item => item.GetProperty("type").GetString() == "tool_result").ToList();
        var children = (await _fixture.GetAsync(parentId)).GetProperty("children").EnumerateArray().Select(child => child.GetString()!).ToList();

        Assert.True(results.Count == 2 && children.Count == 1, $"{string.Join("\n", results)}\n{_fixture.Diagnostics()}");
        var wait = results[1];
        var output = wait.GetProperty("output").GetString()!;
        Assert.False(IsError(wait), output);
        Assert.Contains("\"reached\":true", output, StringComparison.Ordinal);
        Assert.Contains("\"status\":\"idle\"", output, StringComparison.Ordinal);
        Assert.Contains(children[0], output, StringComparison.Ordinal);
        Assert.True(Took(events, "oubliette_session") >= TimeSpan.FromSeconds(25), $"the wait took {Took(events, "oubliette_session")}: {output}");
        Assert.Equal("slept 30 s", Completion(await _fixture.EventsAsync(children[0])));
        Assert.Equal("my slow child finished", Completion(events));
    }

    [Fact]
    public async Task A_caller_tool_answered_after_20_s_gives_the_agent_the_answer()
    {
        await using var caller = await _fixture.Server.ConnectAsync(_fixture.Server.Home.AdminSecret);
        var notifications = SessionFixture.CollectNotifications(caller);
        _fixture.Model.Conversation("PATIENT-CALLER",
            ScriptStep.CallTool("oubliette_slow_lookup", new { key = "fruit" }),
            ScriptStep.From(request => ScriptStep.Reply(request.LastToolResult.Contains("DURIAN", StringComparison.Ordinal) ? "the caller said DURIAN" : "no answer: " + request.LastToolResult)));

        var spawned = await caller.CallAsync("session", new
        {
            action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt = "PATIENT-CALLER: what fruit?", new_session = true, caller_id = "slow",
            caller_tools = new[] { new { name = "lookup", description = "Looks up a word, slowly", input_schema = new { type = "object", properties = new { key = new { type = "string" } } } } },
        });
        Assert.False(spawned.IsError, spawned.Text);
        var sessionId = spawned.Json.GetProperty("session_id").GetString()!;
        var request = await NextRequestAsync(notifications, sessionId);
        var held = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(20));
        var answered = await caller.CallAsync("caller_tool_response", new { session_id = sessionId, request_id = request.GetProperty("request_id").GetString(), result = "DURIAN" });
        held.Stop();
        await _fixture.WaitAsync(sessionId, "idle", 120);
        var events = await _fixture.EventsAsync(sessionId);
        var result = LastOf(events, "tool_result", "oubliette_slow_lookup");
        var output = result.GetProperty("output").GetString()!;

        Assert.False(answered.IsError, answered.Text);
        Assert.True(held.Elapsed >= TimeSpan.FromSeconds(20));
        Assert.False(IsError(result), output);
        Assert.Contains("DURIAN", output, StringComparison.Ordinal);
        Assert.True(Took(events, "oubliette_slow_lookup") >= TimeSpan.FromSeconds(19), $"the call took {Took(events, "oubliette_slow_lookup")}: {output}");
        Assert.Equal("the caller said DURIAN", Completion(events));
    }

    private static async Task<JsonElement> NextRequestAsync(ConcurrentQueue<JsonElement> notifications, string sessionId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        while (!timeout.IsCancellationRequested)
        {
            var request = notifications.FirstOrDefault(item => item.GetProperty("logger").GetString() == "oubliette.caller_tool"
                && item.GetProperty("data").GetProperty("session_id").GetString() == sessionId);
            if (request.ValueKind == JsonValueKind.Object)
            {
                return request.GetProperty("data");
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"no caller_tool_request for {sessionId}");
    }
}
