using Oubliette.Testing;

namespace Oubliette.Tests.Integration;

/// <summary>Oversized prompts and caller payloads are refused with the field, its size, the limit and the config key.</summary>
public sealed class InputCapTests : IAsyncLifetime
{
    private const int Limit = 1024 * 1024;
    private TestHome _home = null!;
    private InProcessServer _server = null!;

    public async Task InitializeAsync()
    {
        _home = await TestHome.CreateAsync();
        _server = await InProcessServer.StartAsync(_home);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _home.DisposeAsync();
    }

    private static string Text(int bytes) => new('p', bytes);

    [Theory]
    [InlineData("spawn", "prompt")]
    [InlineData("spawn", "message")]
    [InlineData("message", "message")]
    [InlineData("message", "prompt")]
    public async Task A_prompt_over_the_limit_is_refused_before_anything_is_looked_up(string action, string field)
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var arguments = new Dictionary<string, object?>
        {
            ["action"] = action,
            // No such project: the size is checked first, so the error is about the size.
            ["project_id"] = Guid.NewGuid().ToString("D"),
            [field] = Text(Limit + 1),
        };

        var outcome = await client.CallAsync("session", arguments);
        var projects = await client.CallAsync("project", new { action = "list" });

        Assert.True(outcome.IsError, outcome.Text);
        Assert.Contains($"'{field}' is {Limit + 1} bytes (UTF-8), more than the {Limit} allowed (server.max_prompt_bytes)", outcome.Text, StringComparison.Ordinal);
        Assert.Equal(0, projects.Json.GetProperty("projects").GetArrayLength());
    }

    [Fact]
    public async Task A_prompt_at_the_limit_in_multibyte_characters_is_measured_in_utf8_bytes()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);

        // 400 000 characters of 3 bytes each: 1 200 000 bytes, over the limit though fewer characters than it.
        var outcome = await client.CallAsync("session", new { action = "spawn", project_id = Guid.NewGuid().ToString("D"), prompt = new string('€', 400_000) });

        Assert.True(outcome.IsError);
        Assert.Contains("'prompt' is 1200000 bytes (UTF-8)", outcome.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Caller_tools_over_the_limit_are_refused()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var tools = new[] { new { name = "big", description = Text(Limit) } };

        var outcome = await client.CallAsync("session", new { action = "spawn", project_id = Guid.NewGuid().ToString("D"), prompt = "hi", caller_id = "me", caller_tools = tools });

        Assert.True(outcome.IsError);
        Assert.Matches(@"'caller_tools' is \d+ bytes of JSON, more than the 1048576 allowed \(server.max_caller_payload_bytes\)", outcome.Text);
    }

    [Fact]
    public async Task The_session_output_schema_lists_the_truncated_marker_as_optional()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var tools = await client.ListToolsAsync();
        var schema = tools.Single(tool => tool.Name == "session").ProtocolTool.OutputSchema!.Value;
        var text = schema.GetRawText();

        Assert.Contains("\"truncated\"", text, StringComparison.Ordinal);
        var required = FindAll(schema, "required").SelectMany(list => list.EnumerateArray()).Select(name => name.GetString()).ToList();
        Assert.DoesNotContain("truncated", required);
    }

    private static IEnumerable<System.Text.Json.JsonElement> FindAll(System.Text.Json.JsonElement element, string property)
    {
        if (element.ValueKind == System.Text.Json.JsonValueKind.Object)
        {
            foreach (var member in element.EnumerateObject())
            {
                if (member.Name == property && member.Value.ValueKind == System.Text.Json.JsonValueKind.Array)
                {
                    yield return member.Value;
                }

                foreach (var found in FindAll(member.Value, property))
                {
                    yield return found;
                }
            }
        }
        else if (element.ValueKind == System.Text.Json.JsonValueKind.Array)
        {
            foreach (var found in element.EnumerateArray().SelectMany(item => FindAll(item, property)))
            {
                yield return found;
            }
        }
    }

    [Fact]
    public async Task A_caller_tool_response_over_the_limit_is_refused()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);

        var result = await client.CallAsync("caller_tool_response", new { session_id = "gogol_20260101_000000_00000000", request_id = "r1", result = new { data = Text(Limit) } });
        var error = await client.CallAsync("caller_tool_response", new { session_id = "gogol_20260101_000000_00000000", request_id = "r1", error = Text(Limit + 1) });

        Assert.True(result.IsError);
        Assert.Matches(@"'result' is \d+ bytes of JSON, more than the 1048576 allowed \(server.max_caller_payload_bytes\)", result.Text);
        Assert.True(error.IsError);
        Assert.Contains($"'error' is {Limit + 1} bytes (UTF-8), more than the 1048576 allowed (server.max_caller_payload_bytes)", error.Text, StringComparison.Ordinal);
    }
}
