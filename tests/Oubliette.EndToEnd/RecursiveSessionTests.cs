using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>Agents calling Oubliette's own tools through the gateway: child sessions, attribution, tree limits.</summary>
[Collection(DockerCollection.Name)]
public sealed class RecursiveSessionTests(DockerEnvironment docker) : IAsyncLifetime
{
    private SessionFixture _fixture = null!;

    public async Task InitializeAsync() =>
        _fixture = await SessionFixture.StartAsync(docker, """ "limits": { "max_recursion_depth": 2, "max_agents_per_session": 3, "max_active_sessions_per_project": 20 } """);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    private static ScriptStep SpawnChild(string prompt) => ScriptStep.CallTool("oubliette_session", new { action = "spawn", prompt });

    private static ScriptStep WaitForChild() => ScriptStep.From(request =>
        request.SessionIdsInLastToolResult is [var child, ..]
            ? ScriptStep.CallTool("oubliette_session", new { action = "wait", session_id = child, until = "idle", timeout_seconds = 40 })
            : ScriptStep.Reply("no child id in: " + request.LastToolResult));

    private static ScriptStep WriteFile(string name, string text) =>
        ScriptStep.CallTool("bash", new { command = $"echo {text} > {name}", description = "write a file" });

    [Fact]
    public async Task An_agent_spawns_a_child_that_writes_a_file_waits_for_it_and_reports()
    {
        _fixture.Model.Conversation("PARENT-ONE", SpawnChild("CHILD-ONE: write child.txt"), WaitForChild(), ScriptStep.Reply("my child finished"));
        _fixture.Model.Conversation("CHILD-ONE", WriteFile("child.txt", "from-child"), ScriptStep.Reply("wrote child.txt"));

        var parentId = await _fixture.SpawnAsync("PARENT-ONE: delegate to a child");
        await _fixture.WaitAsync(parentId, "idle", 120);
        var parent = await _fixture.GetAsync(parentId);
        var children = parent.GetProperty("children").EnumerateArray().Select(child => child.GetString()!).ToList();
        var events = await _fixture.EventsAsync(parentId);

        Assert.True(children.Count == 1, $"children: {parent}\n{_fixture.Diagnostics()}");
        var child = await _fixture.GetAsync(children[0]);
        Assert.Equal(parentId, child.GetProperty("parent_session_id").GetString());
        Assert.Equal(parentId, child.GetProperty("root_session_id").GetString());
        Assert.Equal(1, child.GetProperty("depth").GetInt32());
        Assert.Equal(0, parent.GetProperty("depth").GetInt32());
        Assert.Equal("from-child", (await File.ReadAllTextAsync(Path.Combine(_fixture.HostWorkspace, "child.txt"))).Trim());
        var completion = events.Last(item => item.GetProperty("type").GetString() == "completion");
        Assert.Equal("my child finished", completion.GetProperty("text").GetString());
        var waitResult = events.Last(item => item.GetProperty("type").GetString() == "tool_result");
        Assert.Contains("\"reached\":true", waitResult.GetProperty("output").GetString(), StringComparison.Ordinal);
    }
}
