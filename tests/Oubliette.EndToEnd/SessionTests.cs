using System.Text.Json;
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
}
