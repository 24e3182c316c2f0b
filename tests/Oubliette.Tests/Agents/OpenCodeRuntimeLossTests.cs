using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Oubliette.Agents;
using Oubliette.Agents.OpenCode;
using Oubliette.Configuration;
using Oubliette.Projects;
using Oubliette.Testing;

namespace Oubliette.Tests.Agents;

/// <summary>
/// The runtime over a fake agent behind <c>agent.sock</c> that plays what the container's root relay does when OpenCode
/// dies: the relay still accepts every connection and closes it, since nothing answers behind it.
/// </summary>
public sealed class OpenCodeRuntimeLossTests : IAsyncLifetime
{
    private const string Config = """
        {
          "server": { "address": "127.0.0.1:0" },
          "credentials": { "providers": { "credentials": { "scripted": { "provider": "openai-compatible", "api_key": "sk-x", "base_url": "http://127.0.0.1:9/v1" } }, "default": "scripted" } },
          "models": { "models": { "fast": { "model": "m", "provider": "scripted" } }, "defaults": { "session_model": "fast" } },
        }
        """;

    private TestHome _home = null!;
    private FakeContainerRuntime _engine = null!;
    private ProjectContainers _containers = null!;
    private OpenCodeRuntime _runtime = null!;
    private FakeAgent _agent = null!;
    private readonly AgentEventHub _hub = new();
    private readonly AgentHost _host = new(new ProjectMetadata
    {
        Id = Guid.NewGuid(), Name = "p", CreatedAt = DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch, Autonomy = "off", Reasoning = "off",
        ContainerType = "base", InitGit = true, WorkspaceIsolation = false, Limits = new ProjectLimits(null, null, null), DefaultWorkspaceId = Guid.NewGuid(), Workspaces = [],
    }, null);

    public async Task InitializeAsync()
    {
        _home = await TestHome.CreateAsync(Config);
        var config = ConfigParser.Load(_home.Home.ConfigFile);
        var paths = new ProjectPaths(_home.Home, config);
        _engine = new FakeContainerRuntime();
        _containers = new ProjectContainers(_engine, paths, config, new ContainerLabelSet(new Dictionary<string, string>()), NullLogger<ProjectContainers>.Instance);
        _runtime = new OpenCodeRuntime(_engine, _containers, paths, new OpenCodeConfigWriter(config), new GatewayCredentials(paths), _hub,
            NullLogger<OpenCodeRuntime>.Instance, config);
        await _containers.EnsureRunningAsync(_host, CancellationToken.None);
        _agent = new FakeAgent(paths.AgentSocket(_host));
    }

    public async Task DisposeAsync()
    {
        await _runtime.DisposeAsync();
        _agent.Dispose();
        await _home.DisposeAsync();
    }

    /// <summary>
    /// Between the end of the agent's event stream and the reader's verdict (a few probes), the reader was still running,
    /// so a spawn took the agent for alive: its request reached the relay, which closed it, and the spawn failed with
    /// "the response ended prematurely" instead of starting the agent again.
    /// </summary>
    [Fact]
    public async Task A_request_made_while_the_reader_checks_a_dead_agent_waits_for_the_verdict_and_starts_the_agent_again()
    {
        var lost = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _hub.Subscribe((_, _) => { }, (_, reason) => lost.TrySetResult(reason), _ => { });
        await _runtime.EnsureAgentAsync(_host, CancellationToken.None);
        // Counted from the death on: a first health probe that timed out on a loaded machine starts the agent, too.
        var starts = 0;
        _engine.OnExecDetached = command =>
        {
            if (command.Any(part => part.Contains("start-agent.sh", StringComparison.Ordinal)))
            {
                Interlocked.Increment(ref starts);
                _agent.Alive = true;
            }
        };

        _agent.Die();
        // The reader has seen its stream end and is probing the dead agent: this is the window.
        await _agent.FirstRefused.WaitAsync(TimeSpan.FromSeconds(10));
        await _runtime.EnsureAgentAsync(_host, CancellationToken.None);
        var session = await _runtime.CreateSessionAsync(_host, "/workspace/w", CancellationToken.None);

        Assert.Equal("ses_fake", session);
        Assert.Equal(1, starts);
        Assert.Contains("stopped answering", await lost.Task.WaitAsync(TimeSpan.FromSeconds(10)), StringComparison.Ordinal);
    }

    /// <summary>OpenCode behind the relay: health, the event stream, session creation; once dead, every connection is closed at once.</summary>
    private sealed class FakeAgent : IDisposable
    {
        private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        private readonly List<Socket> _streams = [];
        private readonly TaskCompletionSource _firstRefused = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenSource _stopping = new();

        public FakeAgent(string path)
        {
            File.Delete(path);
            _listener.Bind(new UnixDomainSocketEndPoint(path));
            _listener.Listen();
            _ = AcceptAsync();
        }

        public volatile bool Alive = true;

        /// <summary>Completes when a connection is first refused after <see cref="Die"/>.</summary>
        public Task FirstRefused => _firstRefused.Task;

        public void Die()
        {
            Alive = false;
            lock (_streams)
            {
                foreach (var stream in _streams)
                {
                    stream.Dispose();
                }

                _streams.Clear();
            }
        }

        public void Dispose()
        {
            _stopping.Cancel();
            Die();
            _listener.Dispose();
            _stopping.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (!_stopping.IsCancellationRequested)
            {
                Socket connection;
                try
                {
                    connection = await _listener.AcceptAsync(_stopping.Token);
                }
                catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                _ = ServeAsync(connection);
            }
        }

        private async Task ServeAsync(Socket connection)
        {
            try
            {
                if (!Alive)
                {
                    connection.Dispose();
                    _firstRefused.TrySetResult();
                    return;
                }

                var head = await ReadHeadAsync(connection);
                if (head.StartsWith("GET /global/event", StringComparison.Ordinal))
                {
                    const string Connected = "data: {\"payload\":{\"type\":\"server.connected\",\"properties\":{}}}\n\n";
                    await connection.SendAsync(Encoding.ASCII.GetBytes(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + $"{Connected.Length:x}\r\n{Connected}\r\n"));
                    lock (_streams)
                    {
                        _streams.Add(connection);
                    }

                    return;
                }

                var body = head.StartsWith("GET /global/health", StringComparison.Ordinal) ? "{\"healthy\":true}"
                    : head.StartsWith("POST /session", StringComparison.Ordinal) ? "{\"id\":\"ses_fake\"}"
                    : null;
                var response = body is null
                    ? "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    : $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}";
                await connection.SendAsync(Encoding.ASCII.GetBytes(response));
                connection.Dispose();
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                // The client went away (a probe that timed out).
                connection.Dispose();
            }
        }

        /// <summary>The request line and headers, and the body when it has a length (read and dropped).</summary>
        private static async Task<string> ReadHeadAsync(Socket connection)
        {
            var buffer = new byte[65536];
            var received = 0;
            int end;
            while ((end = Encoding.ASCII.GetString(buffer, 0, received).IndexOf("\r\n\r\n", StringComparison.Ordinal)) < 0)
            {
                var read = await connection.ReceiveAsync(buffer.AsMemory(received));
                if (read == 0)
                {
                    break;
                }

                received += read;
            }

            var head = Encoding.ASCII.GetString(buffer, 0, Math.Max(end, 0));
            var length = head.Split("\r\n").FirstOrDefault(line => line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) is { } header
                ? int.Parse(header["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)
                : 0;
            for (var bodyReceived = received - (end + 4); end >= 0 && bodyReceived < length;)
            {
                var read = await connection.ReceiveAsync(buffer.AsMemory(0, Math.Min(buffer.Length, length - bodyReceived)));
                if (read == 0)
                {
                    break;
                }

                bodyReceived += read;
            }

            return head;
        }
    }
}
