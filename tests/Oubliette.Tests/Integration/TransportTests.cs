using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Oubliette.Agents;
using Oubliette.Containers;
using Oubliette.Mcp;
using Oubliette.Sessions;
using Oubliette.Testing;

namespace Oubliette.Tests.Integration;

/// <summary>
/// The MCP transport as real clients use it: both protocol eras, resumable push streams, progress on long calls and
/// session resources. The real server with fakes of the container engine and the agent.
/// </summary>
public sealed class TransportTests : IAsyncLifetime
{
    private const string Config = """
        {
          "server": { "address": "127.0.0.1:0" },
          "credentials": { "providers": { "credentials": { "scripted": { "provider": "openai-compatible", "api_key": "sk-x", "base_url": "http://127.0.0.1:9/v1" } }, "default": "scripted" } },
          "models": { "models": { "fast": { "model": "m", "provider": "scripted" } }, "defaults": { "session_model": "fast" } },
        }
        """;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private TestHome _home = null!;
    private InProcessServer _server = null!;
    private int _calls;

    public async Task InitializeAsync()
    {
        _home = await TestHome.CreateAsync(Config);
        _server = await InProcessServer.StartAsync(_home, configureServices: services =>
        {
            services.AddSingleton<IContainerRuntime>(new FakeContainerRuntime());
            services.AddSingleton<IAgentRuntime>(new FakeAgentRuntime());
        });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _home.DisposeAsync();
    }

    [Fact]
    public async Task A_2026_07_28_client_lists_and_calls_tools_under_the_same_permissions()
    {
        await using var admin = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret, McpTestClient.StatelessProtocol);
        await using var reader = await McpTestClient.ConnectAsync(_server.McpEndpoint, await _home.CreateTokenAsync("admin:ro"), McpTestClient.StatelessProtocol);

        var tools = await admin.ListToolsAsync();
        var options = await admin.CallAsync("project", new { action = "options" });
        var refused = await reader.CallAsync("token", new { action = "create", name = "sneaky", scope = "admin" });
        var lending = await admin.CallAsync("session", new { action = "spawn", project_id = Guid.NewGuid().ToString(), prompt = "x", caller_id = "me", caller_tools = new[] { new { name = "ask" } } });

        Assert.Equal(McpTestClient.StatelessProtocol, admin.NegotiatedProtocolVersion);
        Assert.Contains(tools, tool => tool.Name == "session");
        Assert.False(options.IsError, options.Text);
        Assert.True(refused.IsError);
        Assert.Equal("forbidden: 'token.create' needs an admin token; this token's scope is 'admin:ro'", refused.Text);
        Assert.True(lending.IsError);
        Assert.Contains("caller tools need a stateful MCP session", lending.Text, StringComparison.Ordinal);
        using var http = new HttpClient();
        using var anonymous = await http.SendAsync(Post(StatelessRequest("tools/list", new JsonObject()), secret: null, McpTestClient.StatelessProtocol));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task Progress_arrives_while_a_session_wait_runs_when_the_call_carries_a_progress_token()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var (_, sessionId) = await RunningSessionAsync(client);
        var beats = new List<ProgressNotificationValue>();
        var progress = new SynchronousProgress(value =>
        {
            lock (beats)
            {
                beats.Add(value);
            }
        });

        var result = await client.CallToolAsync("session",
            new Dictionary<string, object?> { ["action"] = "wait", ["session_id"] = sessionId, ["until"] = "idle", ["timeout_seconds"] = 7 }, progress);

        Assert.NotEqual(true, result.IsError);
        lock (beats)
        {
            // Every 2 s of a 7 s wait: 2, 4, 6 (a loaded machine may lose the last to the wait's end).
            Assert.InRange(beats.Count, 2, 3);
            Assert.Equal(2, beats[0].Progress);
            Assert.Equal("session wait: still running after 2 s", beats[0].Message);
            Assert.Equal(4, beats[1].Progress);
        }
    }

    [Fact]
    public async Task A_resource_subscription_is_told_when_the_session_records_events_and_needs_read_access()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var (projectId, sessionId) = await RunningSessionAsync(client);
        var uri = SessionResources.UriPrefix + sessionId;
        var updated = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var subscription = await client.SubscribeToResourceAsync(uri, (update, _) =>
        {
            updated.TrySetResult(update.Uri);
            return ValueTask.CompletedTask;
        });

        ToolCall(projectId, sessionId);
        var read = await client.ReadResourceAsync(uri);

        Assert.Equal(uri, await updated.Task.WaitAsync(Patience));
        Assert.Contains($"\"session_id\":\"{sessionId}\"", Assert.IsType<TextResourceContents>(Assert.Single(read.Contents)).Text, StringComparison.Ordinal);
        await using var stranger = await McpTestClient.ConnectAsync(_server.McpEndpoint, await _home.CreateTokenAsync($"project:{Guid.NewGuid()}"));
        var refused = await Assert.ThrowsAsync<McpProtocolException>(() => stranger.SubscribeToResourceAsync(uri));
        Assert.Contains($"resource '{uri}': forbidden", refused.Message, StringComparison.Ordinal);
        var malformed = await Assert.ThrowsAsync<McpProtocolException>(() => client.SubscribeToResourceAsync("oubliette://projects/x"));
        Assert.Contains("resource uri 'oubliette://projects/x' is not valid: expected oubliette://sessions/<session_id>", malformed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_2026_07_28_listen_for_a_session_of_another_project_is_refused_naming_it()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var (_, sessionId) = await RunningSessionAsync(client);
        var uri = SessionResources.UriPrefix + sessionId;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var listen = StatelessRequest("subscriptions/listen", new JsonObject { ["notifications"] = new JsonObject { ["resourceSubscriptions"] = new JsonArray(uri) } }, id: 42);

        var stranger = await _home.CreateTokenAsync($"project:{Guid.NewGuid()}");
        using var refused = await http.SendAsync(Post(listen, stranger, McpTestClient.StatelessProtocol));
        using var events = new SseReader(await refused.Content.ReadAsStreamAsync());
        var error = await events.NextMessageAsync();

        Assert.Equal(-32602, error["error"]!["code"]!.GetValue<int>());
        Assert.StartsWith($"resource '{uri}': forbidden: 'session.get' on project", error["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_2026_07_28_listen_is_acknowledged_then_told_on_its_own_stream_when_the_session_records_events()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var (projectId, sessionId) = await RunningSessionAsync(client);
        var uri = SessionResources.UriPrefix + sessionId;
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var listen = StatelessRequest("subscriptions/listen", new JsonObject { ["notifications"] = new JsonObject { ["resourceSubscriptions"] = new JsonArray(uri) } }, id: 7);

        var sessions = _server.Server.Services.GetRequiredService<SessionService>();
        var subscribersBefore = sessions.SubscriberCount(sessionId);

        var held = await http.SendAsync(Post(listen, _home.AdminSecret, McpTestClient.StatelessProtocol), HttpCompletionOption.ResponseHeadersRead);
        var events = new SseReader(await held.Content.ReadAsStreamAsync());
        var acknowledged = await events.NextMessageAsync();
        ToolCall(projectId, sessionId);
        var first = await events.NextMessageAsync();
        ToolCall(projectId, sessionId);
        var second = await events.NextMessageAsync();
        var subscribersWhileListening = sessions.SubscriberCount(sessionId);
        // The client closes the listen request: its subscription goes with it.
        events.Dispose();
        held.Dispose();
        var deadline = DateTime.UtcNow + Patience;
        while (sessions.SubscriberCount(sessionId) != subscribersBefore && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        Assert.Equal("notifications/subscriptions/acknowledged", acknowledged["method"]!.GetValue<string>());
        Assert.Equal(uri, acknowledged["params"]!["notifications"]!["resourceSubscriptions"]![0]!.GetValue<string>());
        foreach (var update in new[] { first, second })
        {
            Assert.Equal("notifications/resources/updated", update["method"]!.GetValue<string>());
            Assert.Equal(uri, update["params"]!["uri"]!.GetValue<string>());
            Assert.Equal(7, update["params"]!["_meta"]![MetaKeys.SubscriptionId]!.GetValue<int>());
        }

        Assert.Equal(subscribersBefore + 1, subscribersWhileListening);
        Assert.Equal(subscribersBefore, sessions.SubscriberCount(sessionId));
    }

    [Fact]
    public async Task A_request_on_an_MCP_session_this_process_does_not_know_is_404_so_the_client_initializes_again()
    {
        // An agent's MCP client keeps its session id across a server restart; the TypeScript SDK (OpenCode's) answers a
        // 404 by initializing a new session and sending the request again, where a 400 would fail the call.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        using var stale = await http.SendAsync(Post(Request("tools/list", new JsonObject()), _home.AdminSecret, McpTestClient.SessionProtocol, session: "0123456789abcdef"));
        using var staleGet = await http.SendAsync(Get("0123456789abcdef", lastEventId: null), HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal(HttpStatusCode.NotFound, stale.StatusCode);
        Assert.Contains("Session not found", await stale.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, staleGet.StatusCode);
    }

    [Fact]
    public async Task A_dropped_push_stream_resumes_with_Last_Event_ID_and_a_reopened_GET_replaces_the_old_one()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var (projectId, sessionId) = await RunningSessionAsync(client);
        var uri = SessionResources.UriPrefix + sessionId;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var mcpSession = await InitializeRawAsync(http);
        using (var subscribed = await http.SendAsync(Post(Request("resources/subscribe", new JsonObject { ["uri"] = uri }), _home.AdminSecret, McpTestClient.SessionProtocol, mcpSession)))
        {
            Assert.Equal(HttpStatusCode.OK, subscribed.StatusCode);
            await subscribed.Content.ReadAsStringAsync();
        }

        // The first GET: read its priming event id, then drop it.
        string primed;
        using (var first = await http.SendAsync(Get(mcpSession, lastEventId: null), HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            using var events = new SseReader(await first.Content.ReadAsStreamAsync());
            primed = (await events.NextAsync()).Id!;
        }

        // A push while no stream is open is kept, and the resumed stream delivers it.
        ToolCall(projectId, sessionId);
        using var resumed = await http.SendAsync(Get(mcpSession, primed), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        using var resumedEvents = new SseReader(await resumed.Content.ReadAsStreamAsync());
        var missed = await resumedEvents.NextMessageAsync();
        Assert.Equal("notifications/resources/updated", missed["method"]!.GetValue<string>());
        Assert.Equal(uri, missed["params"]!["uri"]!.GetValue<string>());

        // A GET without Last-Event-ID replaces the open one (no 400) and carries the next push; the old one is closed.
        using var reopened = await http.SendAsync(Get(mcpSession, lastEventId: null), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, reopened.StatusCode);
        using var reopenedEvents = new SseReader(await reopened.Content.ReadAsStreamAsync());
        ToolCall(projectId, sessionId);
        var next = await reopenedEvents.NextMessageAsync();
        Assert.Equal("notifications/resources/updated", next["method"]!.GetValue<string>());
        await Assert.ThrowsAnyAsync<Exception>(() => resumedEvents.NextAsync());
        Assert.True(_server.Server.Services.GetRequiredService<McpEventStore>().BytesOf(mcpSession) is > 0 and <= McpEventStore.MaxBytesPerSession);
    }

    private async Task<(Guid ProjectId, string SessionId)> RunningSessionAsync(McpClient client)
    {
        var project = await client.CallAsync("project", new { action = "create", name = "transport-" + Guid.NewGuid().ToString("N")[..6] });
        var projectId = Guid.Parse(project.Json.GetProperty("project").GetProperty("id").GetString()!);
        var spawned = await client.CallAsync("session", new { action = "spawn", project_id = projectId.ToString(), prompt = "work" });
        Assert.False(spawned.IsError, spawned.Text);
        return (projectId, spawned.Json.GetProperty("session_id").GetString()!);
    }

    /// <summary>The agent reports a tool call, as OpenCode's event stream does.</summary>
    private void ToolCall(Guid projectId, string sessionId)
    {
        var services = _server.Server.Services;
        var agentSession = services.GetRequiredService<SessionService>().Get(sessionId).AgentSessionId;
        services.GetRequiredService<AgentEventHub>().Publish(projectId,
            new AgentEvent(agentSession, AgentEventKind.ToolCall, Tool: "bash", CallId: $"call{Interlocked.Increment(ref _calls)}"));
    }

    private async Task<string> InitializeRawAsync(HttpClient http)
    {
        var initialize = Request("initialize", new JsonObject
        {
            ["protocolVersion"] = McpTestClient.SessionProtocol,
            ["capabilities"] = new JsonObject(),
            ["clientInfo"] = new JsonObject { ["name"] = "raw", ["version"] = "1" },
        });
        using var response = await http.SendAsync(Post(initialize, _home.AdminSecret, protocol: null));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await response.Content.ReadAsStringAsync();
        var session = response.Headers.GetValues("Mcp-Session-Id").Single();
        var initialized = new JsonObject { ["jsonrpc"] = "2.0", ["method"] = "notifications/initialized" };
        using var accepted = await http.SendAsync(Post(initialized, _home.AdminSecret, McpTestClient.SessionProtocol, session));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        return session;
    }

    private static JsonObject Request(string method, JsonObject parameters, int id = 1) =>
        new() { ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = method, ["params"] = parameters };

    private static JsonObject StatelessRequest(string method, JsonObject parameters, int id = 1)
    {
        parameters["_meta"] = new JsonObject
        {
            [MetaKeys.ProtocolVersion] = McpTestClient.StatelessProtocol,
            [MetaKeys.ClientCapabilities] = new JsonObject(),
            [MetaKeys.ClientInfo] = new JsonObject { ["name"] = "raw", ["version"] = "1" },
        };
        return Request(method, parameters, id);
    }

    private HttpRequestMessage Post(JsonObject body, string? secret, string? protocol, string? session = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, _server.McpEndpoint) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (secret is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        }

        if (protocol is not null)
        {
            request.Headers.Add("MCP-Protocol-Version", protocol);
        }

        if (session is not null)
        {
            request.Headers.Add("Mcp-Session-Id", session);
        }

        if (protocol == McpTestClient.StatelessProtocol)
        {
            request.Headers.Add("Mcp-Method", body["method"]!.GetValue<string>());
        }

        return request;
    }

    private HttpRequestMessage Get(string session, string? lastEventId)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, _server.McpEndpoint);
        request.Headers.Accept.ParseAdd("text/event-stream");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _home.AdminSecret);
        request.Headers.Add("MCP-Protocol-Version", McpTestClient.SessionProtocol);
        request.Headers.Add("Mcp-Session-Id", session);
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        return request;
    }

    private sealed class SynchronousProgress(Action<ProgressNotificationValue> report) : IProgress<ProgressNotificationValue>
    {
        public void Report(ProgressNotificationValue value) => report(value);
    }

    /// <summary>Reads server-sent events: each has an optional id and the data lines joined.</summary>
    private sealed class SseReader(Stream stream) : IDisposable
    {
        private readonly StreamReader _reader = new(stream, Encoding.UTF8);

        public async Task<(string? Id, string Data)> NextAsync()
        {
            using var timeout = new CancellationTokenSource(Patience);
            string? id = null;
            var data = new StringBuilder();
            while (true)
            {
                var line = await _reader.ReadLineAsync(timeout.Token) ?? throw new EndOfStreamException($"the event stream ended (last: {id} {data})");
                if (line.Length == 0)
                {
                    if (id is not null || data.Length > 0)
                    {
                        return (id, data.ToString());
                    }

                    continue;
                }

                if (line.StartsWith("id:", StringComparison.Ordinal))
                {
                    id = line[3..].Trim();
                }
                else if (line.StartsWith("data:", StringComparison.Ordinal))
                {
                    data.Append(line[5..].TrimStart());
                }
            }
        }

        /// <summary>The next event that carries a JSON-RPC message (priming events carry none).</summary>
        public async Task<JsonNode> NextMessageAsync()
        {
            while (true)
            {
                var (_, data) = await NextAsync();
                if (data.Length > 0)
                {
                    return JsonNode.Parse(data)!;
                }
            }
        }

        public void Dispose() => _reader.Dispose();
    }
}
