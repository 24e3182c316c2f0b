using System.Collections.Concurrent;
using System.Text.Json;
using ModelContextProtocol.Client;
using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>Tools an MCP client lends a session: pushed requests, answers, timeouts, and who may answer.</summary>
[Collection(DockerCollection.Name)]
public sealed class CallerToolTests(DockerEnvironment docker) : IAsyncLifetime
{
    private SessionFixture _fixture = null!;

    public async Task InitializeAsync() =>
        _fixture = await SessionFixture.StartAsync(docker, extraServer: "\"caller_tool_timeout_seconds\": 3");

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    private static readonly object LookupTool = new
    {
        name = "lookup",
        description = "Looks up a word the caller knows",
        input_schema = new { type = "object", properties = new { key = new { type = "string" } }, required = new[] { "key" } },
    };

    private async Task<string> SpawnWithToolsAsync(McpClient client, string prompt)
    {
        var outcome = await client.CallAsync("session", new
        {
            action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt, new_session = true, caller_id = "tester", caller_tools = new[] { LookupTool },
        });
        Assert.False(outcome.IsError, outcome.Text);
        return outcome.Json.GetProperty("session_id").GetString()!;
    }

    private static async Task<JsonElement> NextRequestAsync(ConcurrentQueue<JsonElement> notifications, string sessionId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
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

    [Fact]
    public async Task A_caller_tool_round_trip_reaches_the_agent_and_no_other_client_may_answer()
    {
        await using var caller = await _fixture.Server.ConnectAsync(_fixture.Server.Home.AdminSecret);
        var notifications = SessionFixture.CollectNotifications(caller);
        _fixture.Model.Conversation("ASK-CALLER",
            ScriptStep.CallTool("oubliette_tester_lookup", new { key = "fruit" }),
            ScriptStep.From(request => ScriptStep.Reply(request.LastToolResult.Contains("PAPAYA", StringComparison.Ordinal) ? "the caller said PAPAYA" : "no answer: " + request.LastToolResult)));

        var sessionId = await SpawnWithToolsAsync(caller, "ASK-CALLER: what fruit?");
        var request = await NextRequestAsync(notifications, sessionId);
        var requestId = request.GetProperty("request_id").GetString()!;
        var intruder = await _fixture.Admin.CallAsync("caller_tool_response", new { session_id = sessionId, request_id = requestId, result = "BANANA" });
        var answered = await caller.CallAsync("caller_tool_response", new { session_id = sessionId, request_id = requestId, result = "PAPAYA" });
        var again = await caller.CallAsync("caller_tool_response", new { session_id = sessionId, request_id = requestId, result = "late" });
        await _fixture.WaitAsync(sessionId, "idle", 120);
        var events = await _fixture.EventsAsync(sessionId);

        Assert.Equal("caller_tool_request", request.GetProperty("type").GetString());
        Assert.Equal("lookup", request.GetProperty("tool").GetString());
        Assert.Equal("fruit", request.GetProperty("arguments").GetProperty("key").GetString());
        Assert.True(intruder.IsError);
        Assert.Contains("only that caller may answer it", intruder.Text, StringComparison.Ordinal);
        Assert.False(answered.IsError, answered.Text);
        Assert.True(again.IsError);
        Assert.Contains("is not pending", again.Text, StringComparison.Ordinal);
        Assert.Equal("the caller said PAPAYA", events.Last(item => item.GetProperty("type").GetString() == "completion").GetProperty("text").GetString());
    }

    [Fact]
    public async Task A_caller_that_never_answers_gives_the_agent_a_timeout_error_and_its_errors_reach_the_agent()
    {
        await using var caller = await _fixture.Server.ConnectAsync(_fixture.Server.Home.AdminSecret);
        var notifications = SessionFixture.CollectNotifications(caller);
        _fixture.Model.Conversation("SILENT-CALLER",
            ScriptStep.CallTool("oubliette_tester_lookup", new { key = "never" }),
            ScriptStep.CallTool("oubliette_tester_lookup", new { key = "broken" }),
            ScriptStep.Reply("gave up"));

        var sessionId = await SpawnWithToolsAsync(caller, "SILENT-CALLER: ask twice");
        await NextRequestAsync(notifications, sessionId);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        JsonElement second = default;
        while (DateTime.UtcNow < deadline && second.ValueKind != JsonValueKind.Object)
        {
            second = notifications.Select(item => item.GetProperty("data")).FirstOrDefault(data => data.TryGetProperty("arguments", out var arguments)
                && arguments.TryGetProperty("key", out var key) && key.GetString() == "broken");
            await Task.Delay(100);
        }

        var refused = await caller.CallAsync("caller_tool_response", new { session_id = sessionId, request_id = second.GetProperty("request_id").GetString(), error = "the lookup table is broken" });
        await _fixture.WaitAsync(sessionId, "idle", 120);
        var outputs = (await _fixture.EventsAsync(sessionId)).Where(item => item.GetProperty("type").GetString() == "tool_result")
            .Select(item => item.GetProperty("output").GetString()).ToList();

        Assert.False(refused.IsError, refused.Text);
        Assert.Equal(2, outputs.Count);
        Assert.Contains("did not answer", outputs[0], StringComparison.Ordinal);
        Assert.Contains("within 3 s (timeout)", outputs[0], StringComparison.Ordinal);
        Assert.Contains("the lookup table is broken", outputs[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_caller_tools_are_refused_with_the_field_named_and_no_session_is_made()
    {
        var project = _fixture.ProjectId.ToString("D");
        var badId = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = project, prompt = "x", caller_id = "has space", caller_tools = new[] { LookupTool } });
        var badName = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = project, prompt = "x", caller_id = "ok", caller_tools = new[] { new { name = "no/slash" } } });
        var noTools = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = project, prompt = "x", caller_id = "ok" });
        var unknown = await _fixture.Admin.CallAsync("caller_tool_response", new { session_id = "gogol_20260101_000000_deadbeef", request_id = "ctr_0", result = "x" });

        Assert.Contains("caller_id 'has space' is not valid", badId.Text, StringComparison.Ordinal);
        Assert.Contains("caller_tools[0].name 'no/slash' is not valid", badName.Text, StringComparison.Ordinal);
        Assert.Contains("caller_tools must be a non-empty array", noTools.Text, StringComparison.Ordinal);
        Assert.Contains("session_id 'gogol_20260101_000000_deadbeef' not found", unknown.Text, StringComparison.Ordinal);
        Assert.Empty((await _fixture.Admin.CallAsync("session", new { action = "list", project_id = project })).Json.GetProperty("sessions").EnumerateArray());
    }
}
