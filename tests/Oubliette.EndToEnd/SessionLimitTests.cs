using System.Diagnostics;
using System.Text;
using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>Budgets, limits and bad input for sessions: clear errors, nothing changed.</summary>
[Collection(DockerCollection.Name)]
public sealed class SessionLimitTests(DockerEnvironment docker) : IAsyncLifetime
{
    private SessionFixture _fixture = null!;

    public async Task InitializeAsync() =>
        _fixture = await SessionFixture.StartAsync(docker, """ "limits": { "max_cost_usd": 0.05, "max_active_sessions_per_project": 1 } """);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    private async Task<int> SessionCountAsync() =>
        (await _fixture.Admin.CallAsync("session", new { action = "list", project_id = _fixture.ProjectId.ToString("D") })).Json.GetProperty("sessions").GetArrayLength();

    [Fact]
    public async Task A_budget_below_the_first_turns_cost_stops_the_session_with_an_error_naming_the_budget()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("an expensive answer", 1000, 1000));

        var sessionId = await _fixture.SpawnAsync("Spend money");
        var waited = await _fixture.WaitAsync(sessionId, "completed", 60);
        var events = await _fixture.EventsAsync(sessionId);
        var session = await _fixture.GetAsync(sessionId);

        Assert.Equal("failed", waited.GetProperty("status").GetString());
        var error = events.First(item => item.GetProperty("type").GetString() == "error");
        Assert.Contains("budget exceeded", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("max_cost_usd $0.05", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("max_cost_usd", session.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.True(session.GetProperty("cost_usd").GetDouble() > 0.05);
    }

    [Fact]
    public async Task Spawning_past_the_active_session_limit_is_refused_and_changes_nothing()
    {
        _fixture.Model.Enqueue(ScriptStep.HangForever());
        await _fixture.SpawnAsync("Occupy the only slot");
        var before = await SessionCountAsync();

        var refused = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt = "one more", new_session = true });

        Assert.True(refused.IsError);
        Assert.Contains("already has 1 active session (max_active_sessions_per_project=1)", refused.Text, StringComparison.Ordinal);
        Assert.Equal(before, await SessionCountAsync());
    }

    [Theory]
    [InlineData("""{"action":"get","session_id":"gogol_20260101_000000_deadbeef"}""", "session_id 'gogol_20260101_000000_deadbeef' not found")]
    [InlineData("""{"action":"events","session_id":"nope"}""", "session_id 'nope' not found")]
    [InlineData("""{"action":"get"}""", "'session_id' is required")]
    [InlineData("""{"action":"fly"}""", "session: action 'fly' is not valid")]
    [InlineData("""{"action":"wait","session_id":"nope","until":"forever"}""", "session_id 'nope' not found")]
    public async Task Unknown_sessions_and_bad_actions_get_clear_errors(string arguments, string expected)
    {
        var outcome = await _fixture.Admin.CallAsync("session", System.Text.Json.JsonDocument.Parse(arguments).RootElement);

        Assert.True(outcome.IsError);
        Assert.Contains(expected, outcome.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Empty_prompt_and_unknown_model_are_refused_and_no_session_is_made()
    {
        var empty = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt = "   " });
        var model = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt = "hi", model = "ghost" });
        var workspace = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt = "hi", workspace_id = "../x" });

        Assert.Contains("'prompt' (or 'message') is required and must not be empty", empty.Text, StringComparison.Ordinal);
        Assert.Contains("model 'ghost' is not configured", model.Text, StringComparison.Ordinal);
        Assert.Contains("workspace_id '../x' is not valid", workspace.Text, StringComparison.Ordinal);
        Assert.Equal(0, await SessionCountAsync());
    }

    [Fact]
    public async Task Since_index_beyond_the_last_event_is_a_clear_error_and_old_cursors_are_not()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("short"));
        var sessionId = await _fixture.SpawnAsync("Say something short");
        await _fixture.WaitAsync(sessionId);
        var all = await _fixture.EventsAsync(sessionId);
        var last = all[^1].GetProperty("index").GetInt64();

        var beyond = await _fixture.Admin.CallAsync("session", new { action = "events", session_id = sessionId, since_index = last + 5 });
        var page = await _fixture.Admin.CallAsync("session", new { action = "events", session_id = sessionId, since_index = -1, max_events = 2 });
        var rest = await _fixture.Admin.CallAsync("session", new { action = "events", session_id = sessionId, since_index = page.Json.GetProperty("last_index").GetInt64() });

        Assert.True(beyond.IsError);
        Assert.Contains($"since_index {last + 5} is beyond the last event index {last}", beyond.Text, StringComparison.Ordinal);
        Assert.Equal(2, page.Json.GetProperty("events").GetArrayLength());
        Assert.Equal(all.Count - 2, rest.Json.GetProperty("events").GetArrayLength());
        Assert.Equal(last, rest.Json.GetProperty("last_index").GetInt64());
    }

    [Fact]
    public async Task Events_with_wait_seconds_hold_an_empty_poll_until_the_next_event_and_reject_a_bad_wait()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("first"));
        var sessionId = await _fixture.SpawnAsync("Say first");
        await _fixture.WaitAsync(sessionId);
        var last = (await _fixture.EventsAsync(sessionId))[^1].GetProperty("index").GetInt64();

        var idle = Stopwatch.StartNew();
        var empty = await _fixture.Admin.CallAsync("session", new { action = "events", session_id = sessionId, since_index = last, wait_seconds = 1 });
        var idleWait = idle.Elapsed;
        _fixture.Model.Enqueue(ScriptStep.Reply("second"));
        var polling = _fixture.Admin.CallAsync("session", new { action = "events", session_id = sessionId, since_index = last, wait_seconds = 60 });
        await _fixture.Admin.CallAsync("session", new { action = "message", session_id = sessionId, message = "again" });
        var woken = await polling;
        var bad = await _fixture.Admin.CallAsync("session", new { action = "events", session_id = sessionId, since_index = last, wait_seconds = 301 });

        Assert.Empty(empty.Json.GetProperty("events").EnumerateArray());
        Assert.Equal(last, empty.Json.GetProperty("last_index").GetInt64());
        Assert.True(idleWait >= TimeSpan.FromMilliseconds(900), $"an empty long poll returned after {idleWait.TotalMilliseconds:0} ms");
        Assert.NotEmpty(woken.Json.GetProperty("events").EnumerateArray());
        Assert.Equal(last + 1, woken.Json.GetProperty("events")[0].GetProperty("index").GetInt64());
        Assert.True(bad.IsError);
        Assert.Contains("wait_seconds 301 is out of range (0..300)", bad.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_long_poller_gets_a_fast_stream_whole_and_in_order_in_far_fewer_events_than_deltas()
    {
        var pieces = Enumerable.Range(0, 2000).Select(index => $"p{index} ").ToArray();
        _fixture.Model.Enqueue(ScriptStep.Stream(pieces));
        var sessionId = await _fixture.SpawnAsync("Stream it");

        var text = new StringBuilder();
        var deltaEvents = 0;
        var polls = 0;
        long since = -1;
        var done = false;
        while (!done && polls < 1000)
        {
            var page = await _fixture.Admin.CallAsync("session", new { action = "events", session_id = sessionId, since_index = since, wait_seconds = 30 });
            polls++;
            foreach (var item in page.Json.GetProperty("events").EnumerateArray())
            {
                var type = item.GetProperty("type").GetString();
                if (type == "delta")
                {
                    deltaEvents++;
                    text.Append(item.GetProperty("text").GetString());
                }

                done |= type is "completion" or "error";
            }

            since = page.Json.GetProperty("last_index").GetInt64();
        }

        Assert.True(done, $"no completion after {polls} polls");
        Assert.Equal(string.Concat(pieces), text.ToString());
        Assert.True(deltaEvents <= pieces.Length / 50, $"{pieces.Length} deltas came as {deltaEvents} events in {polls} polls");
    }

    [Fact]
    public async Task Another_projects_token_cannot_touch_this_projects_sessions()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("mine"));
        var sessionId = await _fixture.SpawnAsync("Private work");
        await _fixture.WaitAsync(sessionId);
        var secret = await _fixture.Server.Home.CreateTokenAsync($"project:{Guid.NewGuid()}");
        await using var other = await _fixture.Server.ConnectAsync(secret);
        var readOnly = await _fixture.Server.Home.CreateTokenAsync($"project:{_fixture.ProjectId:D}:ro");
        await using var reader = await _fixture.Server.ConnectAsync(readOnly);

        var events = await other.CallAsync("session", new { action = "events", session_id = sessionId });
        var end = await other.CallAsync("session", new { action = "end", session_id = sessionId });
        var read = await reader.CallAsync("session", new { action = "events", session_id = sessionId });
        var write = await reader.CallAsync("session", new { action = "message", session_id = sessionId, message = "hi" });

        Assert.True(events.IsError);
        Assert.Contains($"'session.events' on project {_fixture.ProjectId:D} is not allowed", events.Text, StringComparison.Ordinal);
        Assert.True(end.IsError);
        Assert.False(read.IsError, read.Text);
        Assert.True(write.IsError);
        Assert.Contains("read-only", write.Text, StringComparison.Ordinal);
        Assert.Equal("idle", (await _fixture.GetAsync(sessionId)).GetProperty("status").GetString());
    }
}
