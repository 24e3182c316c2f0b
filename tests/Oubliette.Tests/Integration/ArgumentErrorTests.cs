using System.Text.Json;
using ModelContextProtocol;
using Oubliette.Testing;

namespace Oubliette.Tests.Integration;

/// <summary>Wrong JSON types, unknown arguments, a missing action and an unknown log level: each named, and nothing changes.</summary>
public sealed class ArgumentErrorTests : IAsyncLifetime
{
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

    [Theory]
    [InlineData("project", """{"action":"list","limit":"ten"}""", "project: 'limit' must be an integer, not the string \"ten\"")]
    [InlineData("project", """{"action":"list","limit":2.5}""", "project: 'limit' must be an integer, not the number 2.5")]
    [InlineData("project", """{"action":"create","name":"typed","init_git":"yes"}""", "project: 'init_git' must be a boolean, not the string \"yes\"")]
    [InlineData("project", """{"action":"create","name":7}""", "project: 'name' must be a string, not the number 7")]
    [InlineData("project", """{"action":"create","name":"typed","max_cost_usd":[1]}""", "project: 'max_cost_usd' must be a number, not an array")]
    [InlineData("project", """{"action":5}""", "project: 'action' must be a string, not the number 5")]
    [InlineData("project", """{}""", "project: 'action' is required (allowed: create, list, options, get, delete)")]
    [InlineData("token", """{"name":"x"}""", "token: 'action' is required (allowed: create, list, revoke)")]
    [InlineData("project", """{"action":"fly"}""", "project: action 'fly' is not valid (allowed: create, list, options, get, delete)")]
    [InlineData("project", """{"action":"create","name":"typed","colour":"red"}""", "project: unknown argument 'colour' (allowed: action, project_id, name, description, model, autonomy, reasoning, container_type, remote_url, github_credential, init_git, workspace_isolation, max_recursion_depth, max_agents_per_session, max_cost_usd, name_contains, limit, force)")]
    [InlineData("session", """{"action":"list","project_id":"6a0c1f52-3d5b-4c47-9e8d-2b7f1a9c0e34","sinceIndex":3}""", "session: unknown argument 'sinceIndex' (allowed: ")]
    public async Task Bad_arguments_are_named_with_what_is_allowed_and_change_nothing(string tool, string arguments, string expected)
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var before = (await client.CallAsync("project", new { action = "list" })).Json.GetProperty("projects").GetArrayLength();

        var outcome = await client.CallAsync(tool, JsonDocument.Parse(arguments).RootElement);

        Assert.True(outcome.IsError);
        Assert.StartsWith(expected, outcome.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", outcome.Text, StringComparison.Ordinal);
        Assert.Equal(before, (await client.CallAsync("project", new { action = "list" })).Json.GetProperty("projects").GetArrayLength());
    }

    [Fact]
    public async Task Spawn_without_any_model_configured_names_the_config_keys_to_set_and_leaves_no_session()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var created = await client.CallAsync("project", new { action = "create", name = "no-model" });
        var projectId = created.Json.GetProperty("project").GetProperty("id").GetString();

        var outcome = await client.CallAsync("session", new { action = "spawn", project_id = projectId, prompt = "hello" });

        Assert.False(created.IsError, created.Text);
        Assert.True(outcome.IsError);
        foreach (var key in new[] { "credentials.providers.credentials.<name>", "models.models.<alias>", "defaults.agent.model", "config/oubliette.jsonc" })
        {
            Assert.Contains(key, outcome.Text, StringComparison.Ordinal);
        }

        var sessions = await client.CallAsync("session", new { action = "list", project_id = projectId });
        Assert.Equal(0, sessions.Json.GetProperty("sessions").GetArrayLength());
    }

    [Fact]
    public async Task Well_typed_arguments_still_pass_the_check()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);

        var outcome = await client.CallAsync("project", new { action = "list", limit = 3, name_contains = (string?)null });

        Assert.False(outcome.IsError, outcome.Text);
    }

    [Fact]
    public async Task A_client_mistake_is_logged_as_one_warning_line_without_a_stack_trace()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);

        await Assert.ThrowsAsync<McpProtocolException>(() => client.CallAsync("nosuchtool", new { }));
        await Assert.ThrowsAsync<McpProtocolException>(() => client.SendRequestAsync<JsonElement, JsonElement>(
            "logging/setLevel", JsonDocument.Parse("""{"level":"loud"}""").RootElement).AsTask());

        var log = "";
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!log.Contains("client error", StringComparison.Ordinal))
        {
            await Task.Delay(50, timeout.Token);
            log = string.Concat(Directory.GetFiles(_home.Home.LogsDirectory, "oubliette-*.log").Select(file =>
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                return new StreamReader(stream).ReadToEnd();
            }));
        }

        Assert.Contains("nosuchtool", log, StringComparison.Ordinal);
        Assert.False(log.Contains("   at ", StringComparison.Ordinal), log);
        Assert.DoesNotContain("McpProtocolException", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deleting_an_unknown_mcp_session_is_404_and_a_live_one_is_ended()
    {
        using var http = new HttpClient { BaseAddress = _server.Address };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _home.AdminSecret);
        using var initialize = new HttpRequestMessage(HttpMethod.Post, "/mcp")
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}""",
                System.Text.Encoding.UTF8, "application/json"),
        };
        initialize.Headers.Accept.ParseAdd("application/json");
        initialize.Headers.Accept.ParseAdd("text/event-stream");
        using var initialized = await http.SendAsync(initialize);
        var sessionId = initialized.Headers.GetValues("Mcp-Session-Id").Single();

        var unknown = await DeleteAsync(http, "0123456789abcdef");
        var live = await DeleteAsync(http, sessionId);
        var again = await DeleteAsync(http, sessionId);

        Assert.Equal(System.Net.HttpStatusCode.NotFound, unknown.Status);
        Assert.Contains("Session not found", unknown.Body, StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.OK, live.Status);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, again.Status);
    }

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}""", "'params.protocolVersion' must be a string")]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{}}}""", "'params.clientInfo' must be an object")]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"initialize"}""", "'params' must be an object")]
    public async Task A_refused_initialize_gets_no_session_id(string body, string expected)
    {
        using var http = new HttpClient { BaseAddress = _server.Address };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _home.AdminSecret);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/mcp") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.Contains(expected, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(-32602, error.GetProperty("code").GetInt32());
        Assert.False(response.Headers.Contains("Mcp-Session-Id"));
    }

    private static async Task<(System.Net.HttpStatusCode Status, string Body)> DeleteAsync(HttpClient http, string sessionId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, "/mcp");
        request.Headers.Add("Mcp-Session-Id", sessionId);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task An_unknown_log_level_is_an_invalid_params_error_naming_the_value_and_the_levels()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);

        var exception = await Assert.ThrowsAsync<McpProtocolException>(() => client.SendRequestAsync<JsonElement, JsonElement>(
            "logging/setLevel", JsonDocument.Parse("""{"level":"loud"}""").RootElement).AsTask());

        Assert.Equal(McpErrorCode.InvalidParams, exception.ErrorCode);
        Assert.Contains("'level' \"loud\" is not valid (allowed: debug, info, notice, warning, error, critical, alert, emergency)", exception.Message, StringComparison.Ordinal);
    }
}
