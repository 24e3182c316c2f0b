using System.Text.Json;
using Oubliette.Containers;
using Oubliette.Projects;
using Oubliette.Testing;

namespace Oubliette.EndToEnd;

[Collection(DockerCollection.Name)]
public sealed class SessionTests(DockerEnvironment docker) : IAsyncLifetime
{
    private SessionFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await SessionFixture.StartAsync(docker);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    private static IEnumerable<string> Types(IEnumerable<JsonElement> events) => events.Select(item => item.GetProperty("type").GetString()!);

    [Fact]
    public async Task Spawn_runs_the_real_agent_which_writes_a_file_and_reports_events_in_order()
    {
        var notifications = SessionFixture.CollectNotifications(_fixture.Admin);
        _fixture.Model.Enqueue(
            ScriptStep.CallTool("bash", new { command = "echo 'made by the agent' > hello.txt", description = "write hello.txt" }, 100, 20),
            ScriptStep.Reply("I wrote hello.txt", 150, 10));

        var sessionId = await _fixture.SpawnAsync("Please write hello.txt");
        var waited = await _fixture.WaitAsync(sessionId);
        var events = await _fixture.EventsAsync(sessionId);
        var session = await _fixture.GetAsync(sessionId);

        Assert.Matches(@"^gogol_\d{8}_\d{6}_[0-9a-f]{8}$", sessionId);
        Assert.Equal("idle", waited.GetProperty("status").GetString());
        Assert.Equal("made by the agent\n", await File.ReadAllTextAsync(Path.Combine(_fixture.HostWorkspace, "hello.txt")));
        var types = Types(events).ToList();
        var call = events.Single(item => item.GetProperty("type").GetString() == "tool_call");
        var result = events.Single(item => item.GetProperty("type").GetString() == "tool_result");
        var completion = events.Single(item => item.GetProperty("type").GetString() == "completion");
        Assert.True(types.IndexOf("tool_call") < types.IndexOf("tool_result"));
        Assert.True(types.IndexOf("tool_result") < types.IndexOf("completion"));
        Assert.Equal(Enumerable.Range(0, events.Count).Select(index => (long)index), events.Select(item => item.GetProperty("index").GetInt64()));
        Assert.All(events, item => Assert.Equal(sessionId, item.GetProperty("session_id").GetString()));
        Assert.Equal("bash", call.GetProperty("tool").GetString());
        Assert.Contains("hello.txt", call.GetProperty("input").GetProperty("command").GetString(), StringComparison.Ordinal);
        Assert.Equal(call.GetProperty("call_id").GetString(), result.GetProperty("call_id").GetString());
        Assert.False(result.GetProperty("is_error").GetBoolean());
        Assert.Equal("I wrote hello.txt", completion.GetProperty("text").GetString());
        Assert.Equal(250, completion.GetProperty("tokens_in").GetInt64());
        Assert.Equal(30, completion.GetProperty("tokens_out").GetInt64());
        Assert.True(session.GetProperty("tokens_in").GetInt64() >= 250);
        Assert.True(session.GetProperty("cost_usd").GetDouble() > 0);

        var pushed = notifications.ToArray().Select(item => item.GetProperty("data")).ToList();
        Assert.All(notifications, item => Assert.Equal("oubliette.session", item.GetProperty("logger").GetString()));
        Assert.Contains("tool_call", Types(pushed));
        Assert.Contains("tool_result", Types(pushed));
        Assert.Contains("completion", Types(pushed));
        Assert.DoesNotContain("delta", Types(pushed));
    }

    [Fact]
    public async Task Message_resumes_the_same_agent_session_and_the_model_sees_the_earlier_turn()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("The answer is 42"), ScriptStep.Reply("You asked about the answer"));
        var sessionId = await _fixture.SpawnAsync("What is the answer?");
        await _fixture.WaitAsync(sessionId);

        var resumed = await _fixture.Admin.CallAsync("session", new { action = "message", session_id = sessionId, message = "What did I ask?" });
        await _fixture.WaitAsync(sessionId);
        var again = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt = "And now?" });
        await _fixture.WaitAsync(sessionId);
        var session = await _fixture.GetAsync(sessionId);

        Assert.True(resumed.Json.GetProperty("resumed").GetBoolean());
        Assert.Equal(sessionId, again.Json.GetProperty("session_id").GetString());
        Assert.True(again.Json.GetProperty("resumed").GetBoolean());
        var second = _fixture.Model.AgentRequests[1].AllText;
        Assert.Contains("What is the answer?", second, StringComparison.Ordinal);
        Assert.Contains("The answer is 42", second, StringComparison.Ordinal);
        Assert.Contains("What did I ask?", second, StringComparison.Ordinal);
        Assert.Equal(3, session.GetProperty("turns").GetArrayLength());
        Assert.Equal("You asked about the answer", session.GetProperty("turns")[1].GetProperty("output_excerpt").GetString());
    }

    [Fact]
    public async Task End_during_a_hanging_model_stream_stops_the_turn_within_seconds()
    {
        _fixture.Model.Enqueue(ScriptStep.HangForever());
        var sessionId = await _fixture.SpawnAsync("Think forever");
        await WaitForAsync(() => _fixture.Model.AgentRequests.Count >= 1, "the model call");

        var started = System.Diagnostics.Stopwatch.StartNew();
        var ended = await _fixture.Admin.CallAsync("session", new { action = "end", session_id = sessionId });
        var waited = await _fixture.WaitAsync(sessionId, "completed", 30);

        Assert.False(ended.IsError, ended.Text);
        Assert.Equal("completed", waited.GetProperty("status").GetString());
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"took {started.Elapsed}");
        var message = await _fixture.Admin.CallAsync("session", new { action = "message", session_id = sessionId, message = "more" });
        Assert.True(message.IsError);
        Assert.Contains("has ended (completed)", message.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Usage_is_recorded_on_the_session_and_in_metrics_and_the_gateway_adds_key_and_headers()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("cheap", 1000, 500));
        var sessionId = await _fixture.SpawnAsync("Count tokens");
        await _fixture.WaitAsync(sessionId);
        var session = await _fixture.GetAsync(sessionId);
        using var http = new HttpClient { BaseAddress = _fixture.Server.Server.Address };
        var metrics = await http.GetStringAsync("/metrics");

        Assert.Equal(1000, session.GetProperty("tokens_in").GetInt64());
        Assert.Equal(500, session.GetProperty("tokens_out").GetInt64());
        Assert.Equal(1000 * 1000 / 1e6 + 500 * 2000 / 1e6, session.GetProperty("cost_usd").GetDouble(), 6);
        var project = _fixture.ProjectId.ToString("D");
        Assert.Contains($"oubliette_llm_tokens_total{{project_id=\"{project}\",direction=\"input\"}} 1000", metrics, StringComparison.Ordinal);
        Assert.Contains($"oubliette_llm_cost_usd_total{{project_id=\"{project}\"}} 2", metrics, StringComparison.Ordinal);
        Assert.Contains("oubliette_sessions_spawned_total", metrics, StringComparison.Ordinal);
        var request = _fixture.Model.AgentRequests[0];
        Assert.Equal($"Bearer {SessionFixture.ProviderKey}", request.Headers["authorization"]);
        Assert.Equal("oubliette", request.Headers["x-team"]);
    }

    [Fact]
    public async Task The_provider_key_never_enters_the_container_nor_the_logs()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("done"));
        var sessionId = await _fixture.SpawnAsync("Hello");
        await _fixture.WaitAsync(sessionId);

        var inside = await _fixture.Admin.CallAsync("container", new
        {
            action = "exec",
            project_id = _fixture.ProjectId.ToString("D"),
            command = "env; cat /run/agent-config/* /run/agent/*; grep -rs . /home/gogol/.local /home/gogol/.config /home/gogol/.cache 2>/dev/null | head -c 2000000",
        });

        Assert.False(inside.IsError, inside.Text);
        Assert.Contains("ogw_", inside.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(SessionFixture.ProviderKey, inside.Text, StringComparison.Ordinal);
        foreach (var file in Directory.GetFiles(_fixture.Server.Home.Home.LogsDirectory))
        {
            Assert.DoesNotContain(SessionFixture.ProviderKey, await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_model_failure_becomes_an_error_event_and_the_session_stays_usable()
    {
        var notifications = SessionFixture.CollectNotifications(_fixture.Admin);
        _fixture.Model.Enqueue(ScriptStep.Fail(500, "scripted outage"), ScriptStep.Reply("recovered"));
        var sessionId = await _fixture.SpawnAsync("Fail once please");
        await _fixture.WaitAsync(sessionId);
        var events = await _fixture.EventsAsync(sessionId);

        var error = Assert.Single(events, item => item.GetProperty("type").GetString() == "error");
        Assert.Contains("scripted outage", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("recovered", events.Single(item => item.GetProperty("type").GetString() == "completion").GetProperty("text").GetString());
        Assert.Contains(notifications, item => item.GetProperty("level").GetString() == "error");

        _fixture.Model.Enqueue(ScriptStep.Reply("still usable"));
        await _fixture.Admin.CallAsync("session", new { action = "message", session_id = sessionId, message = "again" });
        await _fixture.WaitAsync(sessionId);
        var after = await _fixture.EventsAsync(sessionId, events[^1].GetProperty("index").GetInt64());
        Assert.Equal("still usable", after.Single(item => item.GetProperty("type").GetString() == "completion").GetProperty("text").GetString());
    }

    [Fact]
    public async Task Killing_the_container_mid_turn_fails_the_session_clearly_and_the_server_keeps_serving()
    {
        _fixture.Model.Enqueue(ScriptStep.HangForever());
        var sessionId = await _fixture.SpawnAsync("Hang on");
        await WaitForAsync(() => _fixture.Model.AgentRequests.Count >= 1, "the model call");

        await docker.Runtime.RemoveAsync(Oubliette.Projects.ProjectContainers.NameOf(_fixture.ProjectId), CancellationToken.None);
        var waited = await _fixture.WaitAsync(sessionId, "completed", 60);
        var events = await _fixture.EventsAsync(sessionId);
        using var http = new HttpClient { BaseAddress = _fixture.Server.Server.Address };

        Assert.Equal("failed", waited.GetProperty("status").GetString());
        Assert.Contains(events, item => item.GetProperty("type").GetString() == "error"
            && item.GetProperty("message").GetString()!.Contains("the agent is gone", StringComparison.Ordinal));
        Assert.StartsWith("""{"status":"ok","version":""", await http.GetStringAsync("/health"), StringComparison.Ordinal);
        Assert.False((await _fixture.Admin.CallAsync("project", new { action = "list" })).IsError);
    }

    [Fact]
    public async Task Restarting_the_server_mid_turn_loses_no_session_and_events_keep_flowing_with_increasing_indices()
    {
        var chunks = Enumerable.Range(0, 40).Select(index => $"part{index} ").ToList();
        _fixture.Model.Enqueue(ScriptStep.Stream(chunks, TimeSpan.FromMilliseconds(150)), ScriptStep.Reply("finished after the restart"));
        var sessionId = await _fixture.SpawnAsync("Stream slowly");
        await WaitForAsync(() => _fixture.Model.AgentRequests.Count >= 1, "the model call");
        await Task.Delay(1000);
        var before = await _fixture.EventsAsync(sessionId);

        await _fixture.Server.RestartServerAsync();
        var waited = await _fixture.WaitAsync(sessionId);
        var after = await _fixture.EventsAsync(sessionId);
        var listed = await _fixture.Admin.CallAsync("session", new { action = "list", project_id = _fixture.ProjectId.ToString("D") });

        Assert.Equal("idle", waited.GetProperty("status").GetString());
        Assert.Contains(sessionId, listed.Text, StringComparison.Ordinal);
        var lastBefore = before[^1].GetProperty("index").GetInt64();
        Assert.NotEmpty(after);
        Assert.All(after, item => Assert.True(item.GetProperty("index").GetInt64() > lastBefore));
        Assert.Contains(after, item => item.GetProperty("type").GetString() == "completion");
    }

    [Fact]
    public async Task Every_client_that_spawned_or_messaged_a_session_gets_its_pushed_events()
    {
        var spawner = SessionFixture.CollectNotifications(_fixture.Admin);
        await using var other = await _fixture.Server.ConnectAsync(_fixture.Server.Home.AdminSecret);
        var messenger = SessionFixture.CollectNotifications(other);
        _fixture.Model.Enqueue(ScriptStep.Reply("first"), ScriptStep.Reply("second"));
        var sessionId = await _fixture.SpawnAsync("One");
        await _fixture.WaitAsync(sessionId);

        await other.CallAsync("session", new { action = "message", session_id = sessionId, message = "Two" });
        await _fixture.WaitAsync(sessionId);
        await WaitForAsync(() => spawner.Count(IsCompletion) >= 2 && messenger.Count(IsCompletion) >= 1, "both clients' completions");

        Assert.Equal(["first", "second"], spawner.Where(IsCompletion).Select(item => item.GetProperty("data").GetProperty("text").GetString()));
        Assert.Equal(["second"], messenger.Where(IsCompletion).Select(item => item.GetProperty("data").GetProperty("text").GetString()));
    }

    private static bool IsCompletion(JsonElement notification) => notification.GetProperty("data").GetProperty("type").GetString() == "completion";

    [Fact]
    public async Task Reasoning_becomes_the_model_variant_and_autonomy_switches_risky_tools_off_for_the_turn()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("careful"));
        var spawned = await _fixture.Admin.CallAsync("session", new
        {
            action = "spawn",
            project_id = _fixture.ProjectId.ToString("D"),
            prompt = "Think hard, touch nothing",
            reasoning = "high",
            autonomy = "high",
        });
        var sessionId = spawned.Json.GetProperty("session_id").GetString()!;
        await _fixture.WaitAsync(sessionId);
        var session = await _fixture.GetAsync(sessionId);
        var bad = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt = "x", reasoning = "extreme", new_session = true });

        Assert.Equal(("high", "high"), (session.GetProperty("reasoning").GetString(), session.GetProperty("autonomy").GetString()));
        var tools = _fixture.Model.AgentRequests[0].Body.GetProperty("tools").EnumerateArray()
            .Select(tool => tool.GetProperty("function").GetProperty("name").GetString()).ToList();
        Assert.DoesNotContain("bash", tools);
        Assert.DoesNotContain("webfetch", tools);
        Assert.True(bad.IsError);
        Assert.Contains("reasoning 'extreme' is not valid (allowed: off, low, medium, high)", bad.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dropped_event_stream_reconnects_and_the_turn_still_completes()
    {
        var chunks = Enumerable.Range(0, 30).Select(index => $"c{index} ").ToList();
        _fixture.Model.Enqueue(ScriptStep.Stream(chunks, TimeSpan.FromMilliseconds(100)));
        var sessionId = await _fixture.SpawnAsync("Stream while the relay drops");
        await WaitForAsync(() => _fixture.Model.AgentRequests.Count >= 1, "the model call");
        await Task.Delay(700);

        // Kill the relay's per-connection children (not the listener): every connection to agent.sock drops, the event
        // stream with them, while new connections still work.
        // The relay runs as root, out of the agent user's reach: only root in the container can do this.
        var dropped = await _fixture.Server.Docker.Runtime.ExecAsync(
            ProjectContainers.NameOf(_fixture.ProjectId),
            new ExecRequest(
                "listener=$(pgrep -of 'UNIX-LISTE[N]:/run/agent-socket/agent.sock'); for pid in $(pgrep -f 'UNIX-LISTE[N]:/run/agent-socket/agent.sock'); do [ \"$pid\" = \"$listener\" ] || kill $pid; done; echo killed",
                "root",
                "/",
                TimeSpan.FromSeconds(30)),
            CancellationToken.None);
        var waited = await _fixture.WaitAsync(sessionId);
        var events = await _fixture.EventsAsync(sessionId);
        var serverLog = string.Concat(Directory.GetFiles(_fixture.Server.Home.Home.LogsDirectory, "oubliette-*.log").Select(File.ReadAllText));

        Assert.Contains("killed", dropped.Stdout, StringComparison.Ordinal);
        Assert.Equal("idle", waited.GetProperty("status").GetString());
        Assert.Contains(events, item => item.GetProperty("type").GetString() == "completion");
        Assert.Contains("event stream of container", serverLog, StringComparison.Ordinal);
        var follow = await _fixture.Admin.CallAsync("session", new { action = "message", session_id = sessionId, message = "still there?" });
        Assert.False(follow.IsError, follow.Text);
        await _fixture.WaitAsync(sessionId);
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(50);
        }
    }
}
