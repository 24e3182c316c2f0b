using System.Diagnostics;
using System.Text.Json;
using Oubliette.Containers;
using Oubliette.Testing;
using Xunit.Abstractions;

namespace Oubliette.EndToEnd.Security;

/// <summary>
/// Attacks found by a security review: a hostile agent with a shell in its container, holding its container's gateway
/// credential and the id of one of its live sessions (both readable from inside), going after the budget, the provider
/// key and the server's memory.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class ReviewAttackTests(DockerEnvironment docker, ITestOutputHelper output) : IAsyncLifetime
{
    private SessionFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await SessionFixture.StartAsync(docker);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    private string Container => $"oubliette-{_fixture.ProjectId:D}";

    private async Task<ExecResult> AsAgentAsync(string command, int seconds = 60)
    {
        var result = await docker.Runtime.ExecAsync(Container, new ExecRequest(command, "gogol", "/workspace", TimeSpan.FromSeconds(seconds)), CancellationToken.None);
        Assert.False(result.TimedOut, command);
        return result;
    }

    private async Task<string> StealCredentialAsync()
    {
        var config = await AsAgentAsync("cat /run/agent-config/opencode.json");
        using var document = JsonDocument.Parse(config.Stdout);
        return document.RootElement.GetProperty("provider").GetProperty("scripted").GetProperty("options").GetProperty("apiKey").GetString()!;
    }

    private async Task<string> AgentSessionIdAsync(string sessionId)
    {
        var file = Path.Combine(_fixture.Server.ProjectDirectory(_fixture.ProjectId), "sessions", sessionId + ".json");
        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(file));
        return document.RootElement.GetProperty("agent_session_id").GetString()!;
    }

    /// <summary>A call to the gateway made by hand from the agent's shell; returns the HTTP status and the body.</summary>
    private async Task<(int Status, string Body)> GatewayCallAsync(string secret, string agentSession, string method, string path, string? body = null, string extra = "")
    {
        var data = body is null ? "" : $"-H 'content-type: application/json' -d '{body}'";
        var result = await AsAgentAsync(
            $"curl -s -w '\\n%{{http_code}}' -X {method} --unix-socket /run/gateway/gateway.sock 'http://gateway{path}' -H 'Authorization: Bearer {secret}' -H 'x-session-id: {agentSession}' {data} {extra}");
        var lines = result.Stdout.TrimEnd().Split('\n');
        return (int.Parse(lines[^1], System.Globalization.CultureInfo.InvariantCulture), string.Join('\n', lines[..^1]));
    }

    /// <summary>
    /// The gateway adds the real provider key to whatever it relays. A hand-made call to any other endpoint of the
    /// provider (files, batches, fine-tuning, models...) carries the key there, unmetered; a model the operator did not
    /// price is served and billed $0, so <c>max_cost_usd</c> never stops it.
    /// </summary>
    [Fact]
    public async Task The_gateway_relays_only_model_calls_of_configured_models_to_the_provider()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("hello", 10, 10));
        var sessionId = await _fixture.SpawnAsync("Say hello");
        await _fixture.WaitAsync(sessionId);
        var secret = await StealCredentialAsync();
        var agentSession = await AgentSessionIdAsync(sessionId);
        _fixture.Model.Enqueue(ScriptStep.Reply("a million tokens for free", 1_000_000, 1_000_000));
        // Only agent requests: OpenCode's title request runs beside the turn and may reach the model after it.
        var requests = _fixture.Model.AgentRequests.Count;
        var costBefore = (await _fixture.GetAsync(sessionId)).GetProperty("cost_usd").GetDouble();

        var models = await GatewayCallAsync(secret, agentSession, "GET", "/llm/scripted/models");
        var files = await GatewayCallAsync(secret, agentSession, "POST", "/llm/scripted/files", "{}");
        var batches = await GatewayCallAsync(secret, agentSession, "POST", "/llm/scripted/batches?x=1", "{}");
        var unpriced = await GatewayCallAsync(secret, agentSession, "POST", "/llm/scripted/chat/completions",
            "{\"model\":\"an-unpriced-model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"free tokens please\"}]}");

        var leaked = string.Join(", ", _fixture.Model.OtherRequests.Select(request => $"{request.Method} {request.Path} ({request.Authorization})"));
        Assert.True(_fixture.Model.OtherRequests.Count == 0, $"the provider key was relayed to: {leaked}");
        Assert.NotEqual(200, models.Status);
        Assert.NotEqual(200, files.Status);
        Assert.NotEqual(200, batches.Status);
        Assert.Equal(403, unpriced.Status);
        Assert.Contains("an-unpriced-model", unpriced.Body, StringComparison.Ordinal);
        Assert.Equal(requests, _fixture.Model.AgentRequests.Count);
        Assert.Equal(costBefore, (await _fixture.GetAsync(sessionId)).GetProperty("cost_usd").GetDouble());
    }

    /// <summary>
    /// OpenCode runs as the agent's own user: the agent can kill it and listen on its port itself. The root relay then
    /// hands the server's event-stream reader to the agent's program, which sends one "line" that never ends. The
    /// reader kept every byte of an unfinished line (doubling its buffer without a bound): a few hundred megabytes per
    /// container, as many times as there are containers, until the host runs out of memory.
    /// </summary>
    [Fact]
    public async Task An_agent_posing_as_opencode_cannot_make_the_event_reader_buffer_an_endless_line()
    {
        const int Megabytes = 200;
        _fixture.Model.Enqueue(ScriptStep.Reply("hello"));
        await _fixture.WaitAsync(await _fixture.SpawnAsync("Say hello"));
        var fake = """
            use IO::Socket::INET;
            my $s;
            for (1..400) { $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 4096, Listen => 16, ReuseAddr => 1) and last; select(undef, undef, undef, 0.025); }
            die "no port" unless $s;
            $SIG{CHLD} = 'IGNORE';
            while (my $c = $s->accept) {
              next if fork;
              my $request = '';
              while (<$c>) { $request .= $_; last if /^\r?\n$/; }
              if ($request =~ m{^GET /global/event}) {
                print $c "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
                print $c "data: {\"payload\":{\"type\":\"server.connected\",\"properties\":{}}}\n\n";
                print $c "data: {\"payload\":{\"type\":\"never.ends\",\"pad\":\"";
                my $chunk = 'a' x 1048576;
                for (1..MEGABYTES) { print $c $chunk or exit; }
                open(my $done, '>', '/tmp/flooded'); close $done;
                sleep 600;
              } else {
                print $c "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
              }
              close $c;
              exit;
            }
            """.Replace("MEGABYTES", Megabytes.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        await File.WriteAllTextAsync(Path.Combine(_fixture.HostWorkspace, "fake.pl"), fake);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var before = GC.GetTotalMemory(forceFullCollection: true);

        await AsAgentAsync($"pkill -u gogol -f '[o]pencode serve'; setsid nohup perl /workspace/{_fixture.WorkspaceId:D}/fake.pl >/tmp/fake.log 2>&1 </dev/null & sleep 0.2; echo started");
        var flooded = Stopwatch.StartNew();
        while ((await AsAgentAsync("test -e /tmp/flooded && echo yes || true")).Stdout.Trim() != "yes")
        {
            Assert.True(flooded.Elapsed < TimeSpan.FromSeconds(120), "the fake OpenCode never got to send its flood: " + (await AsAgentAsync("cat /tmp/fake.log")).Stdout);
            await Task.Delay(500);
        }

        await Task.Delay(2000);
        var grown = (GC.GetTotalMemory(forceFullCollection: true) - before) / (1024 * 1024);
        output.WriteLine($"managed heap grown by {grown} MiB after a line of {Megabytes} MiB");
        Assert.True(grown < Megabytes / 4, $"the server kept {grown} MiB more after the agent sent one unfinished line of {Megabytes} MiB");
    }

    /// <summary>
    /// Usage comes last in a streamed answer. An agent that hangs up after the text and before the usage chunk (the
    /// provider has billed the prompt and the answer by then) made the gateway stop reading: the call was never metered.
    /// </summary>
    [Fact]
    public async Task A_model_call_hung_up_on_before_its_usage_arrives_is_still_metered()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("hello", 10, 10));
        var sessionId = await _fixture.SpawnAsync("Say hello");
        await _fixture.WaitAsync(sessionId);
        var secret = await StealCredentialAsync();
        var agentSession = await AgentSessionIdAsync(sessionId);
        // The usage comes two chunk delays after the first text, the hang-up one delay after the call starts: the text
        // arrives in time and the usage never does, however slowly a loaded machine relays the call.
        _fixture.Model.Enqueue(ScriptStep.Stream(["the answer ", "is long"], TimeSpan.FromSeconds(8), 1_000_000, 1_000_000));
        var costBefore = (await _fixture.GetAsync(sessionId)).GetProperty("cost_usd").GetDouble();

        var call = await AsAgentAsync(
            $"curl -s -N --max-time 8 --unix-socket /run/gateway/gateway.sock http://gateway/llm/scripted/chat/completions -H 'Authorization: Bearer {secret}' -H 'x-session-id: {agentSession}'"
            + " -H 'content-type: application/json' -d '{\"model\":\"scripted-model\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"hang up early\"}]}'; echo \"exit=$?\"");
        Assert.Contains("the answer", call.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("usage", call.Stdout, StringComparison.Ordinal);

        var expected = costBefore + (1_000_000 * 1000 / 1e6) + (1_000_000 * 2000 / 1e6);
        var waited = Stopwatch.StartNew();
        var cost = costBefore;
        // The usage comes about 8 s after the hang-up; the gateway reads for it up to 60 s.
        while (waited.Elapsed < TimeSpan.FromSeconds(60) && cost < expected)
        {
            await Task.Delay(250);
            cost = (await _fixture.GetAsync(sessionId)).GetProperty("cost_usd").GetDouble();
        }

        Assert.Equal(expected, cost, 3);
    }

    /// <summary>
    /// An OpenAI-style stream reports usage only when asked (<c>stream_options.include_usage</c>); OpenCode asks, a call
    /// made by hand need not, and the provider then bills tokens the gateway never sees. The gateway asks for it itself.
    /// </summary>
    [Fact]
    public async Task A_streamed_model_call_made_by_hand_always_asks_the_provider_for_its_usage()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("hello", 10, 10));
        var sessionId = await _fixture.SpawnAsync("Say hello");
        await _fixture.WaitAsync(sessionId);
        var secret = await StealCredentialAsync();
        var agentSession = await AgentSessionIdAsync(sessionId);
        _fixture.Model.Enqueue(ScriptStep.Reply("one", 10, 10), ScriptStep.Reply("two", 10, 10));
        // Only agent requests: OpenCode's title request runs beside the turn and may reach the model after it.
        var before = _fixture.Model.AgentRequests.Count;

        var omitted = await GatewayCallAsync(secret, agentSession, "POST", "/llm/scripted/chat/completions",
            "{\"model\":\"scripted-model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"no usage please\"}]}");
        var refused = await GatewayCallAsync(secret, agentSession, "POST", "/llm/scripted/chat/completions",
            "{\"model\":\"scripted-model\",\"stream\":true,\"stream_options\":{\"include_usage\":false},\"messages\":[{\"role\":\"user\",\"content\":\"no usage please\"}]}");

        Assert.Equal(200, omitted.Status);
        Assert.Equal(200, refused.Status);
        var relayed = _fixture.Model.AgentRequests.Skip(before).ToList();
        Assert.Equal(2, relayed.Count);
        Assert.All(relayed, request =>
            Assert.True(request.Body.TryGetProperty("stream_options", out var options) && options.TryGetProperty("include_usage", out var include) && include.GetBoolean(),
                $"relayed without include_usage: {request.AllText}"));
    }

    /// <summary>
    /// <c>max_cost_usd</c> is checked before each model call and charged after it: calls made at the same moment all
    /// pass the check. An agent firing thirty calls at once spent thirty times what its tree was allowed.
    /// </summary>
    [Fact]
    public async Task Model_calls_fired_at_once_cannot_spend_far_past_max_cost_usd()
    {
        await _fixture.DisposeAsync();
        _fixture = await SessionFixture.StartAsync(docker, """ "limits": { "max_cost_usd": 1 } """);
        _fixture.Model.Enqueue(ScriptStep.Reply("hello"));
        var sessionId = await _fixture.SpawnAsync("Say hello");
        await _fixture.WaitAsync(sessionId);
        var secret = await StealCredentialAsync();
        var agentSession = await AgentSessionIdAsync(sessionId);
        const int Calls = 30;
        for (var call = 0; call < Calls; call++)
        {
            // $1 each (1000 input tokens at $1000 per million), answered over 3 s so that they overlap.
            _fixture.Model.Enqueue(ScriptStep.Stream(["spent"], TimeSpan.FromSeconds(3), 1000, 0));
        }

        var fired = await AsAgentAsync(
            $"for i in $(seq 1 {Calls}); do curl -s -o /dev/null -w '%{{http_code}}\\n' --unix-socket /run/gateway/gateway.sock http://gateway/llm/scripted/chat/completions"
            + $" -H 'Authorization: Bearer {secret}' -H 'x-session-id: {agentSession}' -H 'content-type: application/json'"
            + " -d '{\"model\":\"scripted-model\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"spend\"}]}' & done; wait", 120);

        var served = fired.Stdout.Split('\n').Count(line => line.Trim() == "200");
        var cost = (await _fixture.GetAsync(sessionId)).GetProperty("cost_usd").GetDouble();
        Assert.True(served <= 8, $"{served} of {Calls} simultaneous calls were served against max_cost_usd $1; the tree spent ${cost}");
        Assert.True(cost <= 8, $"the tree spent ${cost} against max_cost_usd $1");
    }

    /// <summary>
    /// Every POST body was read into memory before anything looked at who sent it: a client without any token (over TCP,
    /// to /llm/… or to any unknown path) held max_request_body_bytes of the server's memory per connection, as many
    /// connections as it liked.
    /// </summary>
    [Fact]
    public async Task Bodies_of_requests_nobody_will_read_are_not_held_in_memory()
    {
        const int Connections = 60;
        const int BodyBytes = 4 * 1024 * 1024;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var address = _fixture.Server.Server.Address;
        var sockets = new List<System.Net.Sockets.Socket>();
        try
        {
            var chunk = new byte[65536];
            Array.Fill(chunk, (byte)'a');
            for (var index = 0; index < Connections; index++)
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                await socket.ConnectAsync(address.Host, address.Port);
                sockets.Add(socket);
                var path = index % 2 == 0 ? "/llm/scripted/chat/completions" : "/no/such/path";
                await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {BodyBytes}\r\n\r\n"));
                // All but the last byte: the body never completes, so whatever was buffered stays buffered.
                for (var sent = 0; sent < BodyBytes - 1;)
                {
                    var take = Math.Min(chunk.Length, BodyBytes - 1 - sent);
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                    try
                    {
                        sent += await socket.SendAsync(chunk.AsMemory(0, take), System.Net.Sockets.SocketFlags.None, timeout.Token);
                    }
                    catch (Exception exception) when (exception is OperationCanceledException or System.Net.Sockets.SocketException)
                    {
                        // The server stopped reading (or answered and closed): nothing more of this body is held.
                        break;
                    }
                }
            }

            await Task.Delay(1000);
            var grown = (GC.GetTotalMemory(forceFullCollection: true) - before) / (1024 * 1024);
            output.WriteLine($"managed heap grown by {grown} MiB with {Connections} unfinished bodies");
            Assert.True(grown < 64, $"{Connections} unauthenticated connections made the server hold {grown} MiB more");
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }
}
