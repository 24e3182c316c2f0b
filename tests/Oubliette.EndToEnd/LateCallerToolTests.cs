using System.Collections.Concurrent;
using System.Text.Json;
using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>
/// Caller tools lent after the project's agent started reach its model (the agent is told its tool list changed), and
/// are gone once their session ends; the same holds after a server restart, while the agent's container kept running.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class LateCallerToolTests(DockerEnvironment docker) : IAsyncLifetime
{
    private SessionFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await SessionFixture.StartAsync(docker);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    private static bool Offers(RecordedRequest request, string tool) =>
        request.Body.TryGetProperty("tools", out var tools) && tools.GetRawText().Contains(tool, StringComparison.Ordinal);

    [Fact]
    public async Task A_tool_lent_after_the_agent_started_is_called_by_the_model_and_gone_after_its_session_ends()
    {
        var offeredBefore = true;
        var offeredAfter = true;
        _fixture.Model.Conversation("WARM-UP", ScriptStep.From(request =>
        {
            offeredBefore = Offers(request, "oubliette_late_lookup");
            return ScriptStep.Reply("warm");
        }));
        _fixture.Model.Conversation("LATE-CALLER",
            ScriptStep.CallTool("oubliette_late_lookup", new { key = "fruit" }),
            ScriptStep.From(request => ScriptStep.Reply(request.LastToolResult.Contains("PAPAYA", StringComparison.Ordinal) ? "the caller said PAPAYA" : "no answer: " + request.LastToolResult)));
        _fixture.Model.Conversation("AFTER-END", ScriptStep.From(request =>
        {
            offeredAfter = Offers(request, "oubliette_late_lookup");
            return ScriptStep.Reply("done");
        }));

        // The agent starts and lists its tools before anything is lent.
        var warm = await _fixture.SpawnAsync("WARM-UP: say warm");
        await _fixture.WaitAsync(warm, "idle", 120);

        await using var caller = await _fixture.Server.ConnectAsync(_fixture.Server.Home.AdminSecret);
        var notifications = SessionFixture.CollectNotifications(caller);
        var lent = await caller.CallAsync("session", new
        {
            action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt = "LATE-CALLER: what fruit?", new_session = true, caller_id = "late",
            caller_tools = new[] { new { name = "lookup", description = "Looks up a word the caller knows", input_schema = new { type = "object", properties = new { key = new { type = "string" } } } } },
        });
        Assert.False(lent.IsError, lent.Text);
        var sessionId = lent.Json.GetProperty("session_id").GetString()!;
        var request = await NextRequestAsync(notifications, sessionId);
        var answered = await caller.CallAsync("caller_tool_response", new { session_id = sessionId, request_id = request.GetProperty("request_id").GetString(), result = "PAPAYA" });
        await _fixture.WaitAsync(sessionId, "idle", 120);
        var completion = (await _fixture.EventsAsync(sessionId)).Last(item => item.GetProperty("type").GetString() == "completion").GetProperty("text").GetString();

        var ended = await caller.CallAsync("session", new { action = "end", session_id = sessionId });
        Assert.False(ended.IsError, ended.Text);
        // The agent lists its tools again when told; give that round trip a moment before the next prompt.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var fresh = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt = "AFTER-END: anything?", new_session = true });
        Assert.False(fresh.IsError, fresh.Text);
        var after = fresh.Json.GetProperty("session_id").GetString()!;
        await _fixture.WaitAsync(after, "idle", 120);

        Assert.False(offeredBefore);
        Assert.False(answered.IsError, answered.Text);
        Assert.Equal("the caller said PAPAYA", completion);
        Assert.False(offeredAfter, "the lent tool is still offered after its session ended");
    }

    [Fact]
    public async Task After_a_server_restart_a_newly_lent_tool_reaches_the_agent_and_one_lent_before_is_no_longer_offered()
    {
        var offeredBeforeRestart = false;
        var offered = new List<string>();
        var offeredAfterEnd = true;
        _fixture.Model.Conversation("RESTART-CALLER",
            ScriptStep.From(request =>
            {
                offeredBeforeRestart = Offers(request, "oubliette_early_lookup");
                return ScriptStep.Reply("ready");
            }),
            ScriptStep.From(request =>
            {
                offered.AddRange(new[] { "oubliette_early_lookup", "oubliette_later_lookup" }.Where(tool => Offers(request, tool)));
                return ScriptStep.CallTool("oubliette_later_lookup", new { key = "fruit" });
            }),
            ScriptStep.From(request => ScriptStep.Reply(request.LastToolResult.Contains("MANGO", StringComparison.Ordinal) ? "the caller said MANGO" : "no answer: " + request.LastToolResult)));
        _fixture.Model.Conversation("AFTER-RESTART-END", ScriptStep.From(request =>
        {
            offeredAfterEnd = Offers(request, "oubliette_later_lookup");
            return ScriptStep.Reply("done");
        }));

        // Before the restart: a tool lent by a client of the old server process, listed by the agent.
        var sessionId = "";
        await using (var early = await _fixture.Server.ConnectAsync(_fixture.Server.Home.AdminSecret))
        {
            var spawned = await early.CallAsync("session", new
            {
                action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt = "RESTART-CALLER: say ready", new_session = true, caller_id = "early",
                caller_tools = new[] { new { name = "lookup", description = "Looks up a word the early caller knows" } },
            });
            Assert.False(spawned.IsError, spawned.Text);
            sessionId = spawned.Json.GetProperty("session_id").GetString()!;
            await _fixture.WaitAsync(sessionId, "idle", 120);
        }

        // The agent's container keeps running; its MCP client still holds a session of the old server process.
        await _fixture.Server.RestartServerAsync();
        await using var caller = await _fixture.Server.ConnectAsync(_fixture.Server.Home.AdminSecret);
        var notifications = SessionFixture.CollectNotifications(caller);
        var lent = await caller.CallAsync("session", new
        {
            action = "message", session_id = sessionId, message = "What fruit does the caller know?", caller_id = "later",
            caller_tools = new[] { new { name = "lookup", description = "Looks up a word the caller knows", input_schema = new { type = "object", properties = new { key = new { type = "string" } } } } },
        });
        Assert.False(lent.IsError, lent.Text);
        var request = await NextRequestAsync(notifications, sessionId);
        var answered = await caller.CallAsync("caller_tool_response", new { session_id = sessionId, request_id = request.GetProperty("request_id").GetString(), result = "MANGO" });
        await _fixture.WaitAsync(sessionId, "idle", 120);
        var completion = (await _fixture.EventsAsync(sessionId)).Last(item => item.GetProperty("type").GetString() == "completion").GetProperty("text").GetString();

        // Its session ends: the agent (reconnected to this server process) is told, and stops offering it.
        var ended = await caller.CallAsync("session", new { action = "end", session_id = sessionId });
        Assert.False(ended.IsError, ended.Text);
        await Task.Delay(TimeSpan.FromSeconds(2));
        var fresh = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt = "AFTER-RESTART-END: anything?", new_session = true });
        Assert.False(fresh.IsError, fresh.Text);
        var freshId = fresh.Json.GetProperty("session_id").GetString()!;
        await _fixture.WaitAsync(freshId, "idle", 120);
        // Ended, so that another test of this class never resumes it.
        await _fixture.Admin.CallAsync("session", new { action = "end", session_id = freshId });

        Assert.True(offeredBeforeRestart, "the tool lent before the restart was never offered");
        Assert.Equal(["oubliette_later_lookup"], offered);
        Assert.False(answered.IsError, answered.Text);
        Assert.Equal("the caller said MANGO", completion);
        Assert.False(offeredAfterEnd, "the tool lent after the restart is still offered after its session ended");
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
