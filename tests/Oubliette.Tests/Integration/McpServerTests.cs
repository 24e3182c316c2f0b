using System.Net;
using System.Net.Http.Headers;
using System.Text;
using ModelContextProtocol;
using Oubliette.Testing;

namespace Oubliette.Tests.Integration;

/// <summary>The real server on a loopback port, driven by the official MCP C# client.</summary>
public sealed class McpServerTests : IAsyncLifetime
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

    [Fact]
    public async Task Admin_initializes_and_lists_the_tools()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);

        var tools = await client.ListToolsAsync();

        Assert.Equal("oubliette", client.ServerInfo?.Name);
        Assert.Equal(["caller_tool_response", "config_limits", "container", "project", "schedule", "session", "token", "workspace"], tools.Select(tool => tool.Name).Order());
        Assert.NotNull(tools.Single(tool => tool.Name == "token").ProtocolTool.OutputSchema);
    }

    [Fact]
    public async Task Non_admin_tokens_do_not_see_the_token_tool()
    {
        var secret = await _home.CreateTokenAsync($"project:{Guid.NewGuid()}");
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, secret);

        var tools = await client.ListToolsAsync();

        Assert.Equal(["caller_tool_response", "config_limits", "container", "project", "schedule", "session", "workspace"], tools.Select(tool => tool.Name).Order());
    }

    [Fact]
    public async Task Admin_creates_lists_and_revokes_tokens()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);

        var created = await client.CallAsync("token", new { action = "create", name = "reader", scope = "admin:ro", expires = "30d" });
        var secret = created.Json.GetProperty("secret").GetString()!;
        var id = created.Json.GetProperty("token").GetProperty("id").GetString()!;
        var listed = await client.CallAsync("token", new { action = "list" });
        var revoked = await client.CallAsync("token", new { action = "revoke", token_id = id });
        var after = await client.CallAsync("token", new { action = "list" });

        Assert.False(created.IsError, created.Text);
        Assert.Matches("^oub_[0-9a-f]{64}$", secret);
        Assert.Equal("admin:ro", created.Json.GetProperty("token").GetProperty("scope").GetString());
        Assert.True(created.Json.GetProperty("token").TryGetProperty("expires_at", out _));
        Assert.Contains(id, listed.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, listed.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", listed.Text, StringComparison.Ordinal);
        Assert.Equal(id, revoked.Json.GetProperty("revoked").GetProperty("id").GetString());
        Assert.DoesNotContain(id, after.Text, StringComparison.Ordinal);
        var audit = await File.ReadAllTextAsync(_home.Home.AuditLog);
        Assert.Contains($"\"action\":\"token.revoke\",\"result\":\"ok\"", audit, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, audit, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_created_over_mcp_works_at_once()
    {
        await using var admin = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var created = await admin.CallAsync("token", new { action = "create", name = "fresh", scope = "admin:ro" });

        await using var reader = await McpTestClient.ConnectAsync(_server.McpEndpoint, created.Json.GetProperty("secret").GetString()!);
        var options = await reader.CallAsync("project", new { action = "options" });

        Assert.False(options.IsError, options.Text);
    }

    [Theory]
    [InlineData("admin:ro")]
    [InlineData("project:6a0c1f52-3d5b-4c47-9e8d-2b7f1a9c0e34")]
    [InlineData("project:6a0c1f52-3d5b-4c47-9e8d-2b7f1a9c0e34:ro")]
    public async Task Non_admin_tokens_are_refused_token_management_with_a_clear_error(string scope)
    {
        var secret = await _home.CreateTokenAsync(scope);
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, secret);

        var create = await client.CallAsync("token", new { action = "create", name = "sneaky", scope = "admin" });
        var list = await client.CallAsync("token", new { action = "list" });

        Assert.True(create.IsError);
        Assert.Equal($"forbidden: 'token.create' needs an admin token; this token's scope is '{scope}'", create.Text);
        Assert.True(list.IsError);
        Assert.Contains("'token.list' needs an admin token", list.Text, StringComparison.Ordinal);
        await using var admin = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var tokens = await admin.CallAsync("token", new { action = "list" });
        Assert.DoesNotContain("sneaky", tokens.Text, StringComparison.Ordinal);
        Assert.Contains("\"result\":\"denied\"", await File.ReadAllTextAsync(_home.Home.AuditLog), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"action":"fly"}""", "token: action 'fly' is not valid (allowed: create, list, revoke)")]
    [InlineData("""{"action":"create","scope":"admin"}""", "token create: 'name' is required")]
    [InlineData("""{"action":"create","name":"x"}""", "token create: 'scope' is required")]
    [InlineData("""{"action":"create","name":"x","scope":"root"}""", "scope 'root' is not valid")]
    [InlineData("""{"action":"create","name":"x","scope":"admin","expires":"soon"}""", "expires 'soon' is not valid")]
    [InlineData("""{"action":"revoke"}""", "token revoke: 'token_id' is required")]
    [InlineData("""{"action":"revoke","token_id":"tok_nothere"}""", "token_id 'tok_nothere' not found")]
    public async Task Bad_token_arguments_get_clear_errors_and_change_nothing(string arguments, string expected)
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var before = (await client.CallAsync("token", new { action = "list" })).Json.GetProperty("tokens").GetArrayLength();

        var outcome = await client.CallAsync("token", System.Text.Json.JsonDocument.Parse(arguments).RootElement);

        Assert.True(outcome.IsError);
        Assert.Contains(expected, outcome.Text, StringComparison.Ordinal);
        Assert.Equal(before, (await client.CallAsync("token", new { action = "list" })).Json.GetProperty("tokens").GetArrayLength());
    }

    [Fact]
    public async Task Missing_required_argument_names_the_field()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);

        var outcome = await client.CallAsync("token", new { name = "x" });

        Assert.True(outcome.IsError);
        Assert.Contains("action", outcome.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Project_options_lists_defaults_and_scope_formats_for_any_token()
    {
        var secret = await _home.CreateTokenAsync($"project:{Guid.NewGuid()}:ro");
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, secret);

        var outcome = await client.CallAsync("project", new { action = "options" });
        var wrong = await client.CallAsync("project", new { action = "explode" });

        var options = outcome.Json.GetProperty("options");
        Assert.Equal(3, options.GetProperty("defaults").GetProperty("max_recursion_depth").GetInt32());
        Assert.Equal("dev", options.GetProperty("defaults").GetProperty("container_type").GetString());
        Assert.Equal("oubliette-agent:base", options.GetProperty("container_types").GetProperty("base").GetString());
        Assert.Contains("project:<uuid>:ro", options.GetProperty("scope_formats").EnumerateArray().Select(item => item.GetString()));
        Assert.True(wrong.IsError);
        Assert.Contains("action 'explode' is not valid", wrong.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revoked_token_gets_401_on_its_next_request()
    {
        await using var admin = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var created = await admin.CallAsync("token", new { action = "create", name = "doomed", scope = "admin:ro" });
        var secret = created.Json.GetProperty("secret").GetString()!;
        await using var victim = await McpTestClient.ConnectAsync(_server.McpEndpoint, secret);
        Assert.False((await victim.CallAsync("project", new { action = "options" })).IsError);

        await admin.CallAsync("token", new { action = "revoke", token_id = created.Json.GetProperty("token").GetProperty("id").GetString() });

        await Assert.ThrowsAnyAsync<Exception>(() => victim.CallAsync("project", new { action = "options" }));
        var (status, body, challenge) = await PostInitializeAsync(secret);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("unknown or revoked token", body, StringComparison.Ordinal);
        Assert.Contains("\"jsonrpc\":\"2.0\"", body, StringComparison.Ordinal);
        Assert.StartsWith("Bearer", challenge, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_revoked_by_the_cli_in_another_process_gets_401_on_its_next_request()
    {
        var tokens = TestHome.OpenTokens(_home.Home, TimeProvider.System);
        var created = await tokens.Service.CreateAsync("revoked-by-cli", "admin:ro", null, "test", CancellationToken.None);
        await using var victim = await McpTestClient.ConnectAsync(_server.McpEndpoint, created.Secret);
        // Several calls, so that the server has certainly answered from its cache of known tokens.
        for (var call = 0; call < 3; call++)
        {
            Assert.False((await victim.CallAsync("project", new { action = "options" })).IsError);
        }

        var revoke = await OublietteProcess.RunAsync(["token", "revoke", created.Token.Id, "--dir", _home.Root]);

        Assert.True(revoke.ExitCode == 0, revoke.Error);
        await Assert.ThrowsAnyAsync<Exception>(() => victim.CallAsync("project", new { action = "options" }));
        var (status, body, _) = await PostInitializeAsync(created.Secret);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("unknown or revoked token", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_and_malformed_tokens_get_401_with_a_json_rpc_error()
    {
        var (missingStatus, missingBody, missingChallenge) = await PostInitializeAsync(null);
        var (badStatus, badBody, _) = await PostInitializeAsync("oub_nothex");

        Assert.Equal(HttpStatusCode.Unauthorized, missingStatus);
        Assert.Contains("missing Authorization header", missingBody, StringComparison.Ordinal);
        Assert.Contains("realm=\"oubliette\"", missingChallenge, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, badStatus);
        Assert.Contains("malformed token", badBody, StringComparison.Ordinal);
        Assert.Contains("\"action\":\"auth\",\"result\":\"denied\"", await File.ReadAllTextAsync(_home.Home.AuditLog), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_count_requests_by_route_template_and_status()
    {
        using var http = new HttpClient { BaseAddress = _server.Address };
        await PostInitializeAsync(null);
        var before = CounterValue(await http.GetStringAsync("/metrics"), """oubliette_requests_total{method="POST",path="/mcp",status="401"}""");

        await PostInitializeAsync(null);
        await PostInitializeAsync(null);
        await using (var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret))
        {
            await client.CallAsync("project", new { action = "options" });
        }

        await http.GetStringAsync("/health");
        var metrics = await http.GetStringAsync("/metrics");

        Assert.Equal(before + 2, CounterValue(metrics, """oubliette_requests_total{method="POST",path="/mcp",status="401"}"""));
        Assert.True(CounterValue(metrics, """oubliette_requests_total{method="POST",path="/mcp",status="200"}""") >= 2);
        Assert.True(CounterValue(metrics, """oubliette_requests_total{method="GET",path="/health",status="200"}""") >= 1);
        Assert.Contains("oubliette_request_duration_seconds_bucket{method=\"POST\",path=\"/mcp\"", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE oubliette_active_sessions gauge", metrics, StringComparison.Ordinal);
        Assert.Contains("process_cpu_seconds_total", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("path=\"/mcp/", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_and_ready_answer_without_a_token()
    {
        using var http = new HttpClient { BaseAddress = _server.Address };

        var health = await http.GetStringAsync("/health");
        var ready = await http.GetAsync("/ready");

        Assert.Equal($$"""{"status":"ok","version":"{{Oubliette.Operations.BuildVersion.Current}}"}""", health);
        Assert.Matches(@"^\d+\.\d+\.\d+(\+[0-9a-f]{7,40})?$", Oubliette.Operations.BuildVersion.Current);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("""{"status":"ready","checks":{"auth_db":"ok","schedules_db":"ok","data_dir":"ok","container_runtime":"ok"}}""", await ready.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Ready_reports_503_with_the_reason_when_the_database_is_gone()
    {
        using var http = new HttpClient { BaseAddress = _server.Address };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/ready")).StatusCode);

        foreach (var file in Directory.GetFiles(_home.Home.DataDirectory, "auth.db*"))
        {
            File.Delete(file);
        }

        // The report is cached for at most a second.
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        var response = await http.GetAsync("/ready");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("\"status\":\"not_ready\"", body, StringComparison.Ordinal);
        Assert.Contains("\"auth_db\":\"failed:", body, StringComparison.Ordinal);
        Assert.Contains("auth.db does not exist", body, StringComparison.Ordinal);
        Assert.Contains("\"data_dir\":\"ok\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Oversized_request_body_is_refused_with_413_before_it_is_read()
    {
        // A raw socket announces a 5 MiB body and sends none of it: the server must refuse on the announced length.
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(_server.Address.Host, _server.Address.Port);
        await using var stream = socket.GetStream();
        var head = $"POST /mcp HTTP/1.1\r\nHost: {_server.Address.Authority}\r\nAuthorization: Bearer {_home.AdminSecret}\r\n"
            + "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 5242880\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));

        var buffer = new byte[512];
        var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.StartsWith("HTTP/1.1 413", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mcp_errors_are_not_swallowed_for_unknown_tools()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);

        var exception = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallAsync("nosuchtool", new { }));

        Assert.Contains("nosuchtool", exception.Message, StringComparison.Ordinal);
    }

    private async Task<(HttpStatusCode Status, string Body, string Challenge)> PostInitializeAsync(string? secret)
    {
        using var http = new HttpClient { BaseAddress = _server.Address };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/mcp")
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (secret is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        }

        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.WwwAuthenticate.ToString());
    }

    private static double CounterValue(string metrics, string series)
    {
        var line = metrics.Split('\n').FirstOrDefault(candidate => candidate.StartsWith(series + " ", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
