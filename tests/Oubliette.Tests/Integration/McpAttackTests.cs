#pragma warning disable MCP9006, MCP9005, MCPEXP002, CS0672
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Oubliette.Agents;
using Oubliette.Containers;
using Oubliette.Mcp;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using System.Net.ServerSentEvents;
using Oubliette.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Oubliette.Tests.Integration;

/// <summary>
/// Hostile clients of the MCP transport: a token of one project (or a read-only one) trying to read or disturb what
/// belongs to another MCP session or token through resumable streams.
/// </summary>
public sealed class McpAttackTests : IAsyncLifetime
{
    private const string Config = """
        {
          "server": { "address": "127.0.0.1:0" },
          "credentials": { "providers": { "credentials": { "scripted": { "provider": "openai-compatible", "api_key": "sk-x", "base_url": "http://127.0.0.1:9/v1" } }, "default": "scripted" } },
          "models": { "models": { "fast": { "model": "m", "provider": "scripted" } }, "defaults": { "session_model": "fast" } },
        }
        """;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private TestHome _home = null!;
    private InProcessServer _server = null!;

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
    public async Task Another_tokens_Last_Event_ID_does_not_replay_its_POST_response_stream_to_a_project_token()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var adminSession = await InitializeRawAsync(http, _home.AdminSecret);

        // The admin creates a token; the answer (with its secret) travels on the POST's SSE stream, which is kept for resumption.
        var create = Request("tools/call", new JsonObject { ["name"] = "token", ["arguments"] = new JsonObject { ["action"] = "create", ["name"] = "victim", ["scope"] = "admin" } }, id: 7);
        using var created = await http.SendAsync(Post(create, _home.AdminSecret, adminSession));
        var body = await created.Content.ReadAsStringAsync();
        var ids = body.Split('\n').Where(line => line.StartsWith("id:", StringComparison.Ordinal)).Select(line => line[3..].Trim()).ToList();
        Assert.NotEmpty(ids);
        Assert.Contains("victim", body, StringComparison.Ordinal);

        var attacker = await _home.CreateTokenAsync($"project:{Guid.NewGuid()}:ro");
        var attackerSession = await InitializeRawAsync(http, attacker);
        var stream = ids[0].Split('-')[0];
        foreach (var session in new string?[] { attackerSession, adminSession, null })
        {
            foreach (var lastEventId in new[] { ids[0], $"{stream}-0" })
            {
                using var resumed = await http.SendAsync(Get(attacker, session, lastEventId), HttpCompletionOption.ResponseHeadersRead);
                var text = await ReadSomeAsync(resumed);
                Assert.DoesNotContain("victim", text, StringComparison.Ordinal);
                Assert.DoesNotContain("oub_", text, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task Another_token_cannot_delete_steal_or_replace_an_MCP_sessions_push_stream()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var adminSession = await InitializeRawAsync(http, _home.AdminSecret);
        using var victimGet = await http.SendAsync(Get(_home.AdminSecret, adminSession, lastEventId: null), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, victimGet.StatusCode);
        var victimStream = await victimGet.Content.ReadAsStreamAsync();

        var attacker = await _home.CreateTokenAsync($"project:{Guid.NewGuid()}");
        await InitializeRawAsync(http, attacker);
        using (var stolen = await http.SendAsync(Get(attacker, adminSession, lastEventId: null), HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.NotEqual(HttpStatusCode.OK, stolen.StatusCode);
        }

        using (var delete = new HttpRequestMessage(HttpMethod.Delete, _server.McpEndpoint))
        {
            delete.Headers.Authorization = new AuthenticationHeaderValue("Bearer", attacker);
            delete.Headers.Add("Mcp-Session-Id", adminSession);
            delete.Headers.Add("MCP-Protocol-Version", McpTestClient.SessionProtocol);
            using var deleted = await http.SendAsync(delete);
            Assert.NotEqual(HttpStatusCode.OK, deleted.StatusCode);
        }

        // The victim's stream is still open and its session still answers.
        using var read = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var buffer = new byte[4096];
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            while (await victimStream.ReadAsync(buffer, read.Token) > 0)
            {
            }

            throw new InvalidOperationException("the victim's GET stream was closed");
        });
        using var ping = await http.SendAsync(Post(Request("ping", new JsonObject(), id: 3), _home.AdminSecret, adminSession));
        Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
    }

    [Fact]
    public async Task One_busy_MCP_session_does_not_grow_the_event_store_past_its_bounds_behind_another_sessions_event()
    {
        var store = new McpEventStore(Microsoft.Extensions.Logging.Abstractions.NullLogger<McpEventStore>.Instance);
        await using var quiet = await store.CreateStreamAsync(new SseEventStreamOptions { SessionId = "quiet", StreamId = "__get__" });
        await quiet.WriteEventAsync(new SseItem<JsonRpcMessage?>(new JsonRpcNotification { Method = "notifications/message" }));
        await using var busy = await store.CreateStreamAsync(new SseEventStreamOptions { SessionId = "busy", StreamId = "__get__" });
        var notification = new JsonRpcNotification { Method = "notifications/message", Params = new JsonObject { ["data"] = new string('x', 100) } };

        for (var i = 0; i < 200_000; i++)
        {
            await busy.WriteEventAsync(new SseItem<JsonRpcMessage?>(notification));
        }

        // What the busy session keeps is bounded by bytes; evicted events must not pile up behind the quiet session's one.
        Assert.InRange(store.BytesOf("busy"), 1, McpEventStore.MaxBytesPerSession);
        var kept = (int)(McpEventStore.MaxBytesPerSession / 150) + 1;
        Assert.InRange(store.QueuedEntries, 1, 3 * kept);
    }

    [Fact]
    public void An_agent_opening_MCP_sessions_in_a_loop_does_not_have_every_ended_one_kept_for_tool_list_changes()
    {
        var changes = new AgentToolListChanges(
            _server.Server.Services.GetRequiredService<Oubliette.Sessions.SessionService>(),
            _server.Server.Services.GetRequiredService<Oubliette.Hosting.LiveMcpSessions>(),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<AgentToolListChanges>.Instance);
        var project = Guid.NewGuid();

        for (var i = 0; i < 1000; i++)
        {
            // Each ended MCP session of the agent listed its tools once.
            changes.Listen(project, new EndedServer($"ended-{i}"));
        }

        Assert.InRange(changes.Listening(project), 1, 1);
    }

    [Fact]
    public async Task Subscribing_and_deleting_MCP_sessions_in_a_loop_does_not_pile_up_subscribers_on_an_idle_session()
    {
        await using var admin = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var project = await admin.CallAsync("project", new { action = "create", name = "attack-" + Guid.NewGuid().ToString("N")[..6] });
        var projectId = project.Json.GetProperty("project").GetProperty("id").GetString()!;
        var spawned = await admin.CallAsync("session", new { action = "spawn", project_id = projectId, prompt = "work" });
        Assert.False(spawned.IsError, spawned.Text);
        var sessionId = spawned.Json.GetProperty("session_id").GetString()!;
        var reader = await _home.CreateTokenAsync($"project:{projectId}:ro");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        for (var i = 0; i < 8; i++)
        {
            var mcpSession = await InitializeRawAsync(http, reader);
            using (var subscribed = await http.SendAsync(Post(Request("resources/subscribe", new JsonObject { ["uri"] = $"oubliette://sessions/{sessionId}" }), reader, mcpSession)))
            {
                Assert.Equal(HttpStatusCode.OK, subscribed.StatusCode);
                await subscribed.Content.ReadAsStringAsync();
            }

            using var delete = new HttpRequestMessage(HttpMethod.Delete, _server.McpEndpoint);
            delete.Headers.Authorization = new AuthenticationHeaderValue("Bearer", reader);
            delete.Headers.Add("Mcp-Session-Id", mcpSession);
            delete.Headers.Add("MCP-Protocol-Version", McpTestClient.SessionProtocol);
            using var deleted = await http.SendAsync(delete);
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        }

        // The spawning client's subscriber and at most the newest ended subscription are left.
        Assert.InRange(_server.Server.Services.GetRequiredService<Oubliette.Sessions.SessionService>().SubscriberCount(sessionId), 1, 2);
    }

    [Fact]
    public async Task Another_tokens_push_stream_event_ids_do_not_resume_into_an_attackers_session()
    {
        await using var admin = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var project = await admin.CallAsync("project", new { action = "create", name = "attack-" + Guid.NewGuid().ToString("N")[..6] });
        var projectId = Guid.Parse(project.Json.GetProperty("project").GetProperty("id").GetString()!);
        var spawned = await admin.CallAsync("session", new { action = "spawn", project_id = projectId.ToString(), prompt = "work" });
        var sessionId = spawned.Json.GetProperty("session_id").GetString()!;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var adminSession = await InitializeRawAsync(http, _home.AdminSecret);
        using (var subscribed = await http.SendAsync(Post(Request("resources/subscribe", new JsonObject { ["uri"] = $"oubliette://sessions/{sessionId}" }), _home.AdminSecret, adminSession)))
        {
            await subscribed.Content.ReadAsStringAsync();
        }

        string primed;
        using (var first = await http.SendAsync(Get(_home.AdminSecret, adminSession, lastEventId: null), HttpCompletionOption.ResponseHeadersRead))
        {
            var text = await ReadSomeAsync(first);
            primed = text.Split('\n').First(line => line.StartsWith("id:", StringComparison.Ordinal))[3..].Trim();
        }

        // A push kept while the admin's GET is closed.
        var services = _server.Server.Services;
        var agentSession = services.GetRequiredService<Oubliette.Sessions.SessionService>().Get(sessionId).AgentSessionId;
        services.GetRequiredService<AgentEventHub>().Publish(projectId, new AgentEvent(agentSession, AgentEventKind.ToolCall, Tool: "bash", CallId: "c1"));
        await Task.Delay(300);

        var attacker = await _home.CreateTokenAsync($"project:{Guid.NewGuid()}");
        var attackerSession = await InitializeRawAsync(http, attacker);
        foreach (var session in new string?[] { attackerSession, adminSession, null })
        {
            using var resumed = await http.SendAsync(Get(attacker, session, primed), HttpCompletionOption.ResponseHeadersRead);
            Assert.DoesNotContain("notifications/resources/updated", await ReadSomeAsync(resumed), StringComparison.Ordinal);
        }

        // The admin itself still gets it.
        using var own = await http.SendAsync(Get(_home.AdminSecret, adminSession, primed), HttpCompletionOption.ResponseHeadersRead);
        Assert.Contains("notifications/resources/updated", await ReadSomeAsync(own), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_token_no_method_of_any_revision_gets_past_authentication()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var adminSession = await InitializeRawAsync(http, _home.AdminSecret);
        var discover = Request("server/discover", new JsonObject
        {
            ["_meta"] = new JsonObject { ["io.modelcontextprotocol/protocolVersion"] = McpTestClient.StatelessProtocol },
        });
        using var discovered = await http.SendAsync(Post(discover, secret: null, session: null, protocol: McpTestClient.StatelessProtocol));
        using var get = await http.SendAsync(Get("", adminSession, lastEventId: "1-0"), HttpCompletionOption.ResponseHeadersRead);
        using var delete = new HttpRequestMessage(HttpMethod.Delete, _server.McpEndpoint);
        delete.Headers.Add("Mcp-Session-Id", adminSession);
        using var deleted = await http.SendAsync(delete);

        Assert.Equal(HttpStatusCode.Unauthorized, discovered.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, get.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, deleted.StatusCode);
    }

    private static async Task<string> ReadSomeAsync(HttpResponseMessage response)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return await response.Content.ReadAsStringAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[65536];
        var text = new StringBuilder();
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(buffer, timeout.Token);
                if (read == 0)
                {
                    break;
                }

                text.Append(Encoding.UTF8.GetString(buffer, 0, read));
            }
        }
        catch (OperationCanceledException)
        {
            // Enough: a live stream stays open.
        }

        return text.ToString();
    }

    private async Task<string> InitializeRawAsync(HttpClient http, string secret)
    {
        var initialize = Request("initialize", new JsonObject
        {
            ["protocolVersion"] = McpTestClient.SessionProtocol,
            ["capabilities"] = new JsonObject(),
            ["clientInfo"] = new JsonObject { ["name"] = "raw", ["version"] = "1" },
        });
        using var response = await http.SendAsync(Post(initialize, secret, session: null, protocol: null));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await response.Content.ReadAsStringAsync();
        var session = response.Headers.GetValues("Mcp-Session-Id").Single();
        var initialized = new JsonObject { ["jsonrpc"] = "2.0", ["method"] = "notifications/initialized" };
        using var accepted = await http.SendAsync(Post(initialized, secret, session));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        return session;
    }

    private static JsonObject Request(string method, JsonObject parameters, int id = 1) =>
        new() { ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = method, ["params"] = parameters };

    private HttpRequestMessage Post(JsonObject body, string? secret, string? session, string? protocol = McpTestClient.SessionProtocol)
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

        return request;
    }

    private HttpRequestMessage Get(string secret, string? session, string? lastEventId)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, _server.McpEndpoint);
        request.Headers.Accept.ParseAdd("text/event-stream");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        request.Headers.Add("MCP-Protocol-Version", McpTestClient.SessionProtocol);
        if (session is not null)
        {
            request.Headers.Add("Mcp-Session-Id", session);
        }

        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        return request;
    }

    /// <summary>An MCP session that has ended: only its id is ever read.</summary>
    private sealed class EndedServer(string id) : McpServer
    {
        public override string? SessionId => id;

        public override ClientCapabilities? ClientCapabilities => null;

        public override Implementation? ClientInfo => null;

        public override LoggingLevel? LoggingLevel => null;

        public override McpServerOptions ServerOptions { get; } = new();

        public override IServiceProvider? Services => null;

        public override string? NegotiatedProtocolVersion => null;

        public override Task RunAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;

        public override IAsyncDisposable RegisterNotificationHandler(string method, Func<JsonRpcNotification, CancellationToken, ValueTask> handler) =>
            throw new NotSupportedException();

        public override Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default) => throw new ObjectDisposedException(id);

        public override Task<JsonRpcResponse> SendRequestAsync(JsonRpcRequest request, CancellationToken cancellationToken = default) => throw new ObjectDisposedException(id);
    }
}
