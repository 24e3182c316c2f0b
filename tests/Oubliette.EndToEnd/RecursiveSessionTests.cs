using System.Text.Json;
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

    private async Task<string> SpawnNewAsync(string prompt)
    {
        var outcome = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt, new_session = true });
        Assert.False(outcome.IsError, outcome.Text);
        return outcome.Json.GetProperty("session_id").GetString()!;
    }

    private async Task<List<JsonElement>> TreeAsync(string rootId)
    {
        var sessions = (await _fixture.Admin.CallAsync("session", new { action = "list", project_id = _fixture.ProjectId.ToString("D") })).Json.GetProperty("sessions");
        return [.. sessions.EnumerateArray().Where(session => session.GetProperty("root_session_id").GetString() == rootId)];
    }

    private async Task WaitTreeIdleAsync(string rootId, int expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (DateTime.UtcNow < deadline)
        {
            var tree = await TreeAsync(rootId);
            if (tree.Count >= expected && tree.All(session => session.GetProperty("status").GetString() is "idle" or "failed" or "completed"))
            {
                return;
            }

            await Task.Delay(250);
        }

        Assert.Fail($"tree {rootId} did not settle with {expected} sessions: {string.Join("\n", (await TreeAsync(rootId)).Select(session => session.ToString()))}\n{_fixture.Diagnostics()}");
    }

    private static string? ToolOutput(IEnumerable<JsonElement> events, string tool) =>
        events.LastOrDefault(item => item.GetProperty("type").GetString() == "tool_result" && item.GetProperty("tool").GetString() == tool) is { ValueKind: JsonValueKind.Object } result
            ? result.GetProperty("output").GetString()
            : null;

    [Fact]
    public async Task A_script_that_recurses_without_end_is_stopped_exactly_at_max_recursion_depth()
    {
        _fixture.Model.Conversation("RECURSE", SpawnChild("RECURSE deeper"), ScriptStep.Reply("stopped here"));

        var rootId = await SpawnNewAsync("RECURSE: start");
        await WaitTreeIdleAsync(rootId, 3);
        var tree = await TreeAsync(rootId);

        Assert.Equal([0, 1, 2], tree.Select(session => session.GetProperty("depth").GetInt32()).Order());
        var deepest = tree.Single(session => session.GetProperty("depth").GetInt32() == 2);
        Assert.Empty(deepest.GetProperty("children").EnumerateArray());
        var refusal = ToolOutput(await _fixture.EventsAsync(deepest.GetProperty("session_id").GetString()!), "oubliette_session");
        Assert.Contains("would be at depth 3, beyond max_recursion_depth 2", refusal, StringComparison.Ordinal);
        var middle = tree.Single(session => session.GetProperty("depth").GetInt32() == 1);
        Assert.Equal(rootId, middle.GetProperty("parent_session_id").GetString());
        Assert.Equal(middle.GetProperty("session_id").GetString(), deepest.GetProperty("parent_session_id").GetString());
    }

    [Fact]
    public async Task Fan_out_beyond_max_agents_per_session_is_refused()
    {
        _fixture.Model.Conversation("FANOUT", SpawnChild("LEAF 1"), SpawnChild("LEAF 2"), SpawnChild("LEAF 3"), SpawnChild("LEAF 4"), ScriptStep.Reply("fanned out"));
        _fixture.Model.Conversation("LEAF", ScriptStep.Reply("leaf done"));

        var rootId = await SpawnNewAsync("FANOUT: four children");
        await WaitTreeIdleAsync(rootId, 4);
        var root = await _fixture.GetAsync(rootId);
        var refusal = ToolOutput(await _fixture.EventsAsync(rootId), "oubliette_session");

        Assert.Equal(3, root.GetProperty("children").GetArrayLength());
        Assert.Contains($"session tree {rootId} already has 3 descendant sessions (max_agents_per_session=3)", refusal, StringComparison.Ordinal);
        Assert.Equal(4, (await TreeAsync(rootId)).Count);
    }

    [Fact]
    public async Task Two_sessions_in_one_container_each_spawning_a_child_are_attributed_correctly()
    {
        _fixture.Model.Conversation("TWIN-A", SpawnChild("KID-A: be a"), ScriptStep.Reply("a done"));
        _fixture.Model.Conversation("TWIN-B", SpawnChild("KID-B: be b"), ScriptStep.Reply("b done"));
        _fixture.Model.Conversation("KID-", ScriptStep.Reply("kid done"));

        var first = SpawnNewAsync("TWIN-A: spawn your kid");
        var second = SpawnNewAsync("TWIN-B: spawn your kid");
        var (a, b) = (await first, await second);
        await WaitTreeIdleAsync(a, 2);
        await WaitTreeIdleAsync(b, 2);

        foreach (var (parentId, kid) in new[] { (a, "KID-A"), (b, "KID-B") })
        {
            var parent = await _fixture.GetAsync(parentId);
            var child = await _fixture.GetAsync(parent.GetProperty("children")[0].GetString()!);
            Assert.Equal(parentId, child.GetProperty("parent_session_id").GetString());
            Assert.StartsWith(kid, child.GetProperty("turns")[0].GetProperty("prompt").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Tree_events_merge_every_session_tagged_with_its_id_and_config_limits_report_the_tree()
    {
        _fixture.Model.Conversation("MERGE-ROOT", SpawnChild("MERGE-KID: hello"), WaitForChild(),
            ScriptStep.CallTool("oubliette_config_limits", new { }), ScriptStep.Reply("merged"));
        _fixture.Model.Conversation("MERGE-KID", ScriptStep.Reply("kid says hi"));

        var rootId = await SpawnNewAsync("MERGE-ROOT: go");
        await WaitTreeIdleAsync(rootId, 2);
        var childId = (await _fixture.GetAsync(rootId)).GetProperty("children")[0].GetString()!;
        var firstPage = await _fixture.Admin.CallAsync("session", new { action = "events", session_id = rootId, include_children = true, max_events = 3 });
        var cursors = firstPage.Json.GetProperty("cursors").Deserialize<Dictionary<string, long>>()!;
        var rest = await _fixture.Admin.CallAsync("session", new { action = "events", session_id = rootId, include_children = true, cursors });
        var all = firstPage.Json.GetProperty("events").EnumerateArray().Concat(rest.Json.GetProperty("events").EnumerateArray()).ToList();
        var limits = ToolOutput(await _fixture.EventsAsync(rootId), "oubliette_config_limits");
        var fromClient = await _fixture.Admin.CallAsync("config_limits", new { session_id = childId });

        Assert.Equal(3, firstPage.Json.GetProperty("events").GetArrayLength());
        Assert.Equal((await _fixture.EventsAsync(rootId)).Count + (await _fixture.EventsAsync(childId)).Count, all.Count);
        Assert.Contains(all, item => item.GetProperty("session_id").GetString() == childId && item.GetProperty("type").GetString() == "completion");
        Assert.Equal(all.Count, all.Select(item => (item.GetProperty("session_id").GetString(), item.GetProperty("index").GetInt64())).Distinct().Count());
        Assert.Contains("\"max_recursion_depth\":{\"value\":2,\"source\":\"default\"}", limits, StringComparison.Ordinal);
        Assert.Contains("\"descendants\":1", limits, StringComparison.Ordinal);
        Assert.False(fromClient.IsError, fromClient.Text);
        Assert.Equal(1, fromClient.Json.GetProperty("tree").GetProperty("depth").GetInt32());
        Assert.Equal(rootId, fromClient.Json.GetProperty("tree").GetProperty("root_session_id").GetString());
        Assert.Equal("default", fromClient.Json.GetProperty("limits").GetProperty("max_agents_per_session").GetProperty("source").GetString());
    }

    [Fact]
    public async Task An_agent_cannot_reach_the_token_tool_another_project_or_call_the_gateway_by_hand()
    {
        var (otherProject, _) = await _fixture.Server.CreateProjectAsync("other-" + Guid.NewGuid().ToString("N")[..6]);
        _fixture.Model.Conversation("INTRUDER",
            ScriptStep.CallTool("oubliette_project", new { action = "get", project_id = otherProject.ToString("D") }),
            ScriptStep.CallTool("oubliette_session", new { action = "spawn", project_id = otherProject.ToString("D"), prompt = "escape" }),
            ScriptStep.Reply("tried"));

        var sessionId = await SpawnNewAsync("INTRUDER: look around");
        await _fixture.WaitAsync(sessionId, "idle", 120);
        var events = await _fixture.EventsAsync(sessionId);
        var results = events.Where(item => item.GetProperty("type").GetString() == "tool_result").Select(item => item.GetProperty("output").GetString()).ToList();

        Assert.Equal(2, results.Count);
        Assert.All(results, output => Assert.Contains($"project:{_fixture.ProjectId:D}", output, StringComparison.Ordinal));
        Assert.Empty((await _fixture.Admin.CallAsync("session", new { action = "list", project_id = otherProject.ToString("D") })).Json.GetProperty("sessions").EnumerateArray());

        // The container's credential, as its shell could read it, used by hand on the gateway socket.
        var config = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_fixture.Server.ProjectDirectory(_fixture.ProjectId), "agent-config", "opencode.json")));
        var credential = config.RootElement.GetProperty("mcp").GetProperty("oubliette").GetProperty("headers").GetProperty("Authorization").GetString()!["Bearer ".Length..];
        await using var byHand = await McpTestClient.ConnectUnixAsync(_fixture.Server.Home.Home.DefaultGatewaySocket, credential);
        var tools = (await byHand.ListToolsAsync()).Select(tool => tool.Name).Order().ToList();
        var token = await byHand.CallAsync("token", new { action = "list" });
        var spawn = await byHand.CallAsync("session", new { action = "spawn", prompt = "not from an agent's tool call" });

        Assert.Equal(["config_limits", "project", "session"], tools);
        Assert.True(token.IsError);
        Assert.Contains("tool 'token' is not available to agents", token.Text, StringComparison.Ordinal);
        Assert.True(spawn.IsError);
        Assert.Contains("cannot be attributed to a session", spawn.Text, StringComparison.Ordinal);
        Assert.Single((await TreeAsync(sessionId)));
    }

    [Fact]
    public async Task The_cost_budget_covers_the_whole_tree_and_stops_parent_and_child_together()
    {
        var created = await _fixture.Admin.CallAsync("project", new { action = "create", name = "budget-" + Guid.NewGuid().ToString("N")[..6], container_type = "base", max_cost_usd = 4.0 });
        Assert.False(created.IsError, created.Text);
        var project = created.Json.GetProperty("project").GetProperty("id").GetString()!;
        // Each step costs $3 at the fixture's prices ($1000/M in, $2000/M out): parent $3 + child $3 > $4, neither alone.
        _fixture.Model.Conversation("BUDGET-ROOT",
            ScriptStep.CallTool("oubliette_session", new { action = "spawn", prompt = "BUDGET-KID: spend" }, 1000, 1000), WaitForChild(), ScriptStep.Reply("unreachable"));
        _fixture.Model.Conversation("BUDGET-KID", ScriptStep.Reply("an expensive answer", 1000, 1000));

        var spawned = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = project, prompt = "BUDGET-ROOT: delegate", new_session = true });
        var rootId = spawned.Json.GetProperty("session_id").GetString()!;
        await _fixture.WaitAsync(rootId, "completed", 120);
        var root = await _fixture.GetAsync(rootId);
        var child = await _fixture.GetAsync(root.GetProperty("children")[0].GetString()!);
        var limits = await _fixture.Admin.CallAsync("config_limits", new { session_id = rootId });

        Assert.Equal("failed", root.GetProperty("status").GetString());
        Assert.Equal("failed", child.GetProperty("status").GetString());
        Assert.Contains("max_cost_usd $4", root.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("max_cost_usd $4", child.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.True(limits.Json.GetProperty("tree").GetProperty("cost_usd").GetDouble() > 4, limits.Text);
        Assert.Equal("project", limits.Json.GetProperty("limits").GetProperty("max_cost_usd").GetProperty("source").GetString());
        await _fixture.Admin.CallAsync("project", new { action = "delete", project_id = project, force = true });
    }
}
