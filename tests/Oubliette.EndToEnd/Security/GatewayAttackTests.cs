using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Oubliette.Containers;
using Oubliette.Testing;

namespace Oubliette.EndToEnd.Security;

/// <summary>
/// A hostile agent with a shell in its container, holding its container's gateway credential: no model call outside a
/// live session of its project (the budget's side door), no /metrics, /health or /ready, nothing after its project is
/// deleted, and no endless 413 loop for a conversation over the request cap.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class GatewayAttackTests(DockerEnvironment docker) : IAsyncLifetime
{
    private const int Cap = 1024 * 1024;
    private SessionFixture _fixture = null!;

    public async Task InitializeAsync() =>
        _fixture = await SessionFixture.StartAsync(docker, extraServer: $"\"max_request_body_bytes\": {Cap}");

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    private string Container => $"oubliette-{_fixture.ProjectId:D}";

    private string AuditLog => File.Exists(_fixture.Server.Home.Home.AuditLog) ? File.ReadAllText(_fixture.Server.Home.Home.AuditLog) : "";

    private async Task<ExecResult> AsAgentAsync(string command)
    {
        var result = await docker.Runtime.ExecAsync(Container, new ExecRequest(command, "gogol", "/workspace", TimeSpan.FromSeconds(60)), CancellationToken.None);
        Assert.False(result.TimedOut, command);
        return result;
    }

    /// <summary>The container's gateway credential, read as the agent's shell can read it.</summary>
    private async Task<string> StealCredentialAsync()
    {
        var config = await AsAgentAsync("cat /run/agent-config/opencode.json 2>/dev/null || cat /run/agent/opencode.json");
        using var document = JsonDocument.Parse(config.Stdout);
        var secret = document.RootElement.GetProperty("provider").GetProperty("scripted").GetProperty("options").GetProperty("apiKey").GetString()!;
        Assert.StartsWith("ogw_", secret, StringComparison.Ordinal);
        return secret;
    }

    /// <summary>A model call made by hand from inside the container; returns the HTTP status and the body.</summary>
    private async Task<(int Status, string Body)> ModelCallAsync(string secret, string? agentSessionId, string via = "--unix-socket /run/gateway/gateway.sock http://gateway", string? bodyFile = null)
    {
        var header = agentSessionId is null ? "" : $"-H 'x-session-id: {agentSessionId}'";
        var data = bodyFile is null ? "-d '{\"model\":\"scripted-model\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"free tokens please\"}]}'" : $"--data-binary @{bodyFile}";
        var result = await AsAgentAsync(
            $"curl -s -w '\\n%{{http_code}}' {via}/llm/scripted/chat/completions -H 'Authorization: Bearer {secret}' -H 'content-type: application/json' {header} {data}");
        var lines = result.Stdout.TrimEnd().Split('\n');
        return (int.Parse(lines[^1], System.Globalization.CultureInfo.InvariantCulture), string.Join('\n', lines[..^1]));
    }

    private async Task<string> AgentSessionIdAsync(string sessionId)
    {
        var file = Path.Combine(_fixture.Server.ProjectDirectory(_fixture.ProjectId), "sessions", sessionId + ".json");
        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(file));
        return document.RootElement.GetProperty("agent_session_id").GetString()!;
    }

    private async Task<string> MetricsAsync()
    {
        using var http = new HttpClient { BaseAddress = _fixture.Server.Server.Address };
        return await http.GetStringAsync("/metrics");
    }

    private string CostLine(string metrics) =>
        metrics.Split('\n').FirstOrDefault(line => line.StartsWith($"oubliette_llm_cost_usd_total{{project_id=\"{_fixture.ProjectId:D}\"}}", StringComparison.Ordinal)) ?? "(none)";

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!await condition())
        {
            await Task.Delay(100, deadline.Token).ConfigureAwait(false);
        }

        Assert.True(await condition(), what);
    }

    [Fact]
    public async Task Model_calls_without_a_live_session_of_the_project_are_refused_unrelayed_unmetered_and_audited()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("hello", 10, 10), ScriptStep.Reply("paid for", 1000, 1000));
        var sessionId = await _fixture.SpawnAsync("Say hello");
        await _fixture.WaitAsync(sessionId);
        var secret = await StealCredentialAsync();
        var agentSession = await AgentSessionIdAsync(sessionId);

        // Control: the live session's own id is served (and billed to it), so the refusals below are the binding's doing.
        var served = await ModelCallAsync(secret, agentSession);
        Assert.Equal(200, served.Status);
        // OpenCode's title request runs beside the turn and may reach the model after it: only agent requests are counted.
        var requests = _fixture.Model.AgentRequests.Count;
        var cost = CostLine(await MetricsAsync());
        var sessionCost = (await _fixture.GetAsync(sessionId)).GetProperty("cost_usd").GetDouble();

        var missing = await ModelCallAsync(secret, null);
        var madeUp = await ModelCallAsync(secret, "ses_made_up_by_the_agent", via: "http://127.0.0.1:4097");
        var ended = await _fixture.Admin.CallAsync("session", new { action = "end", session_id = sessionId });
        Assert.False(ended.IsError, ended.Text);
        var afterEnd = await ModelCallAsync(secret, agentSession);

        Assert.Equal(403, missing.Status);
        Assert.Contains("must carry x-session-id naming a live session of this container's project", missing.Body, StringComparison.Ordinal);
        Assert.Equal(403, madeUp.Status);
        Assert.Contains("x-session-id 'ses_made_up_by_the_agent' is not a session of this container's project", madeUp.Body, StringComparison.Ordinal);
        Assert.Equal(403, afterEnd.Status);
        Assert.Contains($"session {sessionId} has ended (completed)", afterEnd.Body, StringComparison.Ordinal);
        Assert.Equal(requests, _fixture.Model.AgentRequests.Count);
        Assert.Equal(cost, CostLine(await MetricsAsync()));
        Assert.Equal(sessionCost, (await _fixture.GetAsync(sessionId)).GetProperty("cost_usd").GetDouble());
        // Each refusal has its own audit line. Counted by message, not in total: a late title request of the ended
        // session is refused (and audited) the same way as the hand-made call after the end.
        var audit = AuditLog.Split('\n')
            .Where(line => line.Contains("\"gateway.llm\"", StringComparison.Ordinal) && line.Contains($"project:{_fixture.ProjectId:D}", StringComparison.Ordinal))
            .ToList();
        Assert.Single(audit, line => line.Contains("403: model calls through the gateway must carry x-session-id", StringComparison.Ordinal));
        Assert.Single(audit, line => line.Contains("403: x-session-id ", StringComparison.Ordinal) && line.Contains("ses_made_up_by_the_agent", StringComparison.Ordinal));
        Assert.Contains(audit, line => line.Contains($"403: session {sessionId} has ended (completed)", StringComparison.Ordinal));
        Assert.DoesNotContain(secret, AuditLog, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_gateway_socket_answers_no_metrics_health_or_ready_and_the_tcp_port_no_llm()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("hello"));
        await _fixture.WaitAsync(await _fixture.SpawnAsync("Say hello"));

        var probes = await AsAgentAsync(
            "for p in /metrics /health /ready /nothing; do curl -s -o /dev/null -w \"$p %{http_code}\\n\" --unix-socket /run/gateway/gateway.sock http://gateway$p; done;"
            + " curl -s -w ' %{http_code}' http://127.0.0.1:4097/metrics");
        using var http = new HttpClient { BaseAddress = _fixture.Server.Server.Address };
        using var overTcp = await http.PostAsync("/llm/scripted/chat/completions", new StringContent("{}"));

        Assert.Equal(["/metrics 404", "/health 404", "/ready 404", "/nothing 404"], probes.Stdout.Split('\n')[..4]);
        Assert.DoesNotContain("oubliette_requests_total", probes.Stdout, StringComparison.Ordinal);
        Assert.EndsWith(" 404", probes.Stdout.TrimEnd(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, overTcp.StatusCode);
        Assert.Equal(5, AuditLog.Split('\n').Count(line => line.Contains("\"gateway.route\"", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);
    }

    [Fact]
    public async Task A_deleted_projects_credential_is_refused_at_once_on_llm_and_mcp()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("hello"));
        await _fixture.WaitAsync(await _fixture.SpawnAsync("Say hello"));
        var secret = await StealCredentialAsync();
        using var gateway = GatewayClient(secret);
        using var before = await gateway.PostAsync("/llm/scripted/chat/completions", Json("{}"));
        Assert.Equal(HttpStatusCode.Forbidden, before.StatusCode);

        var deleted = await _fixture.Admin.CallAsync("project", new { action = "delete", project_id = _fixture.ProjectId.ToString("D"), force = true });
        Assert.False(deleted.IsError, deleted.Text);
        using var llm = await gateway.PostAsync("/llm/scripted/chat/completions", Json("{}"));
        using var mcp = await gateway.PostAsync("/mcp", Json("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}"""));

        Assert.Equal(HttpStatusCode.Unauthorized, llm.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, mcp.StatusCode);
        using var refusal = JsonDocument.Parse(await mcp.Content.ReadAsStringAsync());
        Assert.Contains("the gateway accepts only the calling container's credential", refusal.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("\"gateway.auth\"", AuditLog, StringComparison.Ordinal);
        Assert.Contains("401: the gateway needs this container", AuditLog, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, AuditLog, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_oversized_mcp_post_gets_413_naming_the_limit_without_a_stack_trace()
    {
        using var http = new HttpClient { BaseAddress = _fixture.Server.Server.Address };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _fixture.Server.Home.AdminSecret);
        var body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"pad\":\"" + new string('a', Cap + 1000) + "\"}}";
        var request = new HttpRequestMessage(HttpMethod.Post, "/mcp") { Content = Json(body) };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        // The server answers 413 from the Content-Length and closes the connection: a client still writing the body
        // would get a broken pipe instead of the answer. With Expect: 100-continue it waits for the verdict first.
        request.Headers.ExpectContinue = true;

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        // The request is counted after the response is written: the client may read it before the count is made.
        var metrics = "";
        for (var deadline = DateTime.UtcNow.AddSeconds(10); !metrics.Contains("status=\"413\"", StringComparison.Ordinal) && DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            metrics = await MetricsAsync();
        }

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains($"request body too large: the limit is {Cap} bytes (server.max_request_body_bytes)", text, StringComparison.Ordinal);
        Assert.Contains("oubliette_requests_total{method=\"POST\",path=\"/mcp\",status=\"413\"} 1", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("status=\"500\"", metrics, StringComparison.Ordinal);
        // The file logger writes in batches: the line may land a moment after the response.
        var log = "";
        for (var deadline = DateTime.UtcNow.AddSeconds(10); !log.Contains("body over server.max_request_body_bytes", StringComparison.Ordinal) && DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            log = string.Concat(Directory.GetFiles(_fixture.Server.Home.Home.LogsDirectory, "oubliette-*.log").Select(File.ReadAllText));
        }

        Assert.Contains("body over server.max_request_body_bytes", log, StringComparison.Ordinal);
        Assert.DoesNotContain("BadHttpRequestException", log, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_model_call_over_the_cap_gets_413_and_fails_its_session_with_the_reason()
    {
        _fixture.Model.Enqueue(ScriptStep.HangForever());
        var sessionId = await _fixture.SpawnAsync("Think forever");
        await WaitForAsync(() => Task.FromResult(_fixture.Model.AgentRequests.Count >= 1), "the model call");
        var secret = await StealCredentialAsync();
        var agentSession = await AgentSessionIdAsync(sessionId);
        // Only agent requests: OpenCode's title request runs beside the turn and may reach the model later.
        var requests = _fixture.Model.AgentRequests.Count;
        await AsAgentAsync(
            $"{{ printf '{{\"model\":\"scripted-model\",\"messages\":[{{\"role\":\"user\",\"content\":\"'; head -c {Cap + 4096} /dev/zero | tr '\\0' a; printf '\"}}]}}'; }} > /tmp/huge.json");

        var (status, body) = await ModelCallAsync(secret, agentSession, bodyFile: "/tmp/huge.json");
        var waited = await _fixture.WaitAsync(sessionId, "completed");
        var session = await _fixture.GetAsync(sessionId);
        var events = await _fixture.EventsAsync(sessionId);

        var expected = $"the conversation is over the gateway's request cap of {Cap} bytes (server.max_request_body_bytes); the turn is ended";
        Assert.Equal(413, status);
        Assert.Contains(expected, body, StringComparison.Ordinal);
        Assert.Equal("failed", waited.GetProperty("status").GetString());
        Assert.Equal(expected, session.GetProperty("error").GetString());
        Assert.Contains(events, item => item.GetProperty("type").GetString() == "error" && item.GetProperty("message").GetString() == expected);
        Assert.Equal(requests, _fixture.Model.AgentRequests.Count);
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    /// <summary>The host side of the gateway socket, with a credential as a container would present it.</summary>
    private HttpClient GatewayClient(string secret)
    {
        var socket = _fixture.Server.Home.Home.DefaultGatewaySocket;
        var client = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var connection = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await connection.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancellationToken);
                return new NetworkStream(connection, ownsSocket: true);
            },
        })
        { BaseAddress = new Uri("http://gateway") };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        client.DefaultRequestHeaders.Accept.ParseAdd("application/json, text/event-stream");
        return client;
    }
}
