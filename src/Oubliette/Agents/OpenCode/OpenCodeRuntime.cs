using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Oubliette.Containers;
using Oubliette.Errors;
using Oubliette.Operations;
using Oubliette.Projects;

namespace Oubliette.Agents.OpenCode;

/// <summary>
/// OpenCode (<c>opencode serve</c>) in each project container, reached through <c>agent.sock</c> in the project's
/// bind-mounted run folder. One reader of OpenCode's global event stream per container routes every session's events
/// by session id.
/// </summary>
public sealed partial class OpenCodeRuntime(
    IContainerRuntime runtime,
    ProjectContainers containers,
    ProjectPaths paths,
    OpenCodeConfigWriter configWriter,
    GatewayCredentials credentials,
    AgentEventHub hub,
    ILogger<OpenCodeRuntime> logger,
    Configuration.OublietteConfig config) : IAgentRuntime, IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan ProbeSpacing = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan LossProbeSpacing = TimeSpan.FromMilliseconds(200);
    private const int LossProbes = 5;

    /// <summary>The config holds the container's gateway credential: readable by root and the agent's group (gid 1000) only.</summary>
    private const UnixFileMode ConfigMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
    private const UnixFileMode ScriptMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>The bound of one request to the agent (create a session, send a prompt): it answers these at once.</summary>
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    /// <summary>A request unanswered this long has its container looked at: a paused one would hold it for ever.</summary>
    private static readonly TimeSpan SlowCallCheck = TimeSpan.FromSeconds(2);
    private readonly ConcurrentDictionary<Guid, AgentConnection> _connections = new();
    private readonly KeyedLocks _locks = new();
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>
    /// OpenCode's settings for a container without a network: nothing to fetch or update, so do not wait for it to fail.
    /// </summary>
    internal static readonly IReadOnlyList<string> OfflineEnvironment =
    [
        "OPENCODE_DISABLE_MODELS_FETCH=true",
        "OPENCODE_DISABLE_AUTOUPDATE=true",
        "OPENCODE_DISABLE_LSP_DOWNLOAD=true",
        "OPENCODE_DISABLE_SHARE=true",
    ];

    /// <summary>Runs as the agent user: OpenCode and its relay to the gateway (OpenCode → host: models and Oubliette's tools).</summary>
    private static readonly string StartScript = $"""
        #!/bin/sh
        # Started by Oubliette (docker exec) as the agent user. The host reaches OpenCode through a relay Oubliette starts
        # as root (see RelayScript); this relay joins OpenCode to the bind-mounted gateway socket.
        # 64 KiB buffers: with socat's default 8 KiB a streamed turn reached the server in many small reads.
        socat -b 65536 TCP-LISTEN:{OpenCodeConfigWriter.GatewayPort},bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:{ProjectContainers.GatewayMountPoint}/gateway.sock &
        cd /workspace
        # OpenCode's own log (--print-logs, at INFO) goes to agent.log, which the container's main process follows: so it
        # is also what `docker logs` shows (see ProjectContainers.MainCommand).
        exec opencode serve --print-logs --log-level INFO --hostname 127.0.0.1 --port {OpenCodeConfigWriter.AgentPort} >>{ProjectContainers.AgentLogInContainer} 2>&1

        """;

    private const string AgentSocketInContainer = ProjectContainers.AgentSocketMountPoint + "/agent.sock";

    /// <summary>
    /// The host → OpenCode relay, run as root (uid 0 without any capability, no-new-privileges): its socket lives in a
    /// root-owned folder, so the agent user can neither replace the socket nor kill the relay. An earlier relay (the agent
    /// was restarted, the container was not) is stopped first; <c>-x -f</c> matches the relay's exact command line only.
    /// </summary>
    private static readonly string RelayScript =
        $"pkill -U 0 -x -f '{AgentRelay(AgentSocketInContainer, OpenCodeConfigWriter.AgentPort)}'; rm -f {AgentSocketInContainer}; exec {AgentRelay(AgentSocketInContainer, OpenCodeConfigWriter.AgentPort)}";

    /// <summary>The user the relay runs as: root in the container, which owns the socket folder.</summary>
    internal const string RelayUser = "root";

    /// <summary>The relay that exposes OpenCode's loopback port as a unix socket in a bind-mounted folder.</summary>
    internal static string AgentRelay(string socketPath, int port) =>
        $"socat -b 65536 UNIX-LISTEN:{socketPath},mode=600,fork TCP:127.0.0.1:{port}";

    public async Task EnsureAgentAsync(AgentHost host, CancellationToken cancellationToken)
    {
        if (await IsConnectedAsync(host, cancellationToken))
        {
            return;
        }

        using var _ = await _locks.AcquireAsync(host.Key, cancellationToken);
        if (await IsConnectedAsync(host, cancellationToken))
        {
            return;
        }

        await containers.EnsureRunningAsync(host, cancellationToken);
        var http = UnixSocketHttp.Create(paths.AgentSocket(host));
        bool adopted;
        try
        {
            adopted = await IsHealthyAsync(http, cancellationToken);
            if (!adopted)
            {
                await StartAgentAsync(host, cancellationToken);
                await WaitHealthyAsync(host, http, cancellationToken);
            }
        }
        catch
        {
            http.Dispose();
            throw;
        }

        var connection = new AgentConnection(http, UnixSocketHttp.CreateForBlockingReads(paths.AgentSocket(host))) { Host = host, Adopted = adopted };
        connection.Reader = Task.Run(() => ReadEventsAsync(host, connection, _stopping.Token), CancellationToken.None);
        if (_connections.TryGetValue(host.Key, out var previous))
        {
            await previous.DisposeAsync();
        }

        _connections[host.Key] = connection;
        await connection.Connected.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
    }

    /// <summary>
    /// Whether the host has a connection to a live agent. A reader with an open stream is proof enough: it ends (and
    /// reports the loss) as soon as the agent's stream does. A reader whose stream has just ended is finding out whether
    /// the agent is gone (a few probes, see <see cref="LostBecauseAsync"/>): its verdict is awaited, because meanwhile the
    /// root relay still accepts connections and closes them with no agent behind it, so a request would fail instead of
    /// starting the agent again.
    /// </summary>
    private async Task<bool> IsConnectedAsync(AgentHost host, CancellationToken cancellationToken)
    {
        if (!_connections.TryGetValue(host.Key, out var connection) || connection.Reader.IsCompleted)
        {
            return false;
        }

        if (connection.LossCheck is not { } check)
        {
            return true;
        }

        try
        {
            await check.WaitAsync(LossCheckBound, cancellationToken);
        }
        catch (TimeoutException)
        {
            // No verdict in time (the engine is slow to answer): the connection is used as it is, as before the check.
        }

        return _connections.TryGetValue(host.Key, out var after) && after == connection && !connection.Reader.IsCompleted;
    }

    /// <summary>How long a caller waits for a reader's verdict on an ended stream: a status call and a few short probes.</summary>
    private static readonly TimeSpan LossCheckBound = TimeSpan.FromSeconds(30);

    public async Task<string> CreateSessionAsync(AgentHost host, string directory, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(host, "create a session",
            (http, token) => http.PostAsJsonAsync($"session?directory={Uri.EscapeDataString(directory)}", new JsonObject(), token), cancellationToken);
        await EnsureSuccessAsync(response, "create a session", cancellationToken);
        var created = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        return created.GetProperty("id").GetString() ?? throw new ExternalFailureException("OpenCode created a session without an id");
    }

    public async Task PromptAsync(AgentHost host, string agentSessionId, string directory, string text, AgentModel model, PromptOptions options, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["parts"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = text }),
            ["model"] = new JsonObject { ["providerID"] = model.ProviderId, ["modelID"] = model.ModelId },
        };
        if (options.Variant is { } variant)
        {
            body["variant"] = variant;
        }

        if (options.DisabledTools is { } tools)
        {
            body["tools"] = new JsonObject([.. tools.Select(pair => KeyValuePair.Create(pair.Key, (JsonNode?)JsonValue.Create(pair.Value)))]);
        }

        await ReconnectMcpOnceAsync(host, directory, cancellationToken);
        using var response = await SendAsync(host, "send the prompt", (http, token) => http.PostAsJsonAsync(
            $"session/{Uri.EscapeDataString(agentSessionId)}/prompt_async?directory={Uri.EscapeDataString(directory)}", body, token), cancellationToken);
        await EnsureSuccessAsync(response, "send the prompt", cancellationToken);
    }

    /// <summary>
    /// An agent this server process did not start (its container kept running across a server restart) still holds an
    /// MCP session of the previous process, and the tool list that process gave it: the new process does not know that
    /// session, so it can neither tell it that caller tools were lent or withdrawn nor answer it. So before the first
    /// prompt in each directory (OpenCode keeps one MCP client per directory), the agent is asked to connect its
    /// <c>oubliette</c> MCP server afresh (<c>POST /mcp/oubliette/connect</c>): a new MCP session with this process, whose
    /// tool list is listed now (and kept up to date from then on). Concurrent prompts wait for the same reconnect; one
    /// that did not end connected is logged and tried again before the next prompt, and the prompt goes ahead meanwhile
    /// (with the tools the agent listed before).
    /// </summary>
    private async Task ReconnectMcpOnceAsync(AgentHost host, string directory, CancellationToken cancellationToken)
    {
        if (!_connections.TryGetValue(host.Key, out var connection) || !connection.Adopted)
        {
            return;
        }

        var mine = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var reconnect = connection.McpReconnects.GetOrAdd(directory, mine);
        if (reconnect == mine)
        {
            string? outcome = "the server is stopping";
            try
            {
                outcome = await ReconnectMcpAsync(host, directory);
            }
            finally
            {
                mine.SetResult(outcome);
                if (outcome is not null)
                {
                    connection.McpReconnects.TryRemove(new KeyValuePair<string, TaskCompletionSource<string?>>(directory, mine));
                    LogMcpReconnectFailed(logger, ProjectContainers.NameOf(host), directory, outcome);
                }
            }
        }

        await reconnect.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Reconnects the agent's MCP client of one directory; null when it is connected, else why not.</summary>
    private async Task<string?> ReconnectMcpAsync(AgentHost host, string directory)
    {
        var query = $"directory={Uri.EscapeDataString(directory)}";
        try
        {
            // Not bound to one prompt's cancellation: concurrent prompts share this reconnect. SendAsync bounds it.
            using (var connected = await SendAsync(host, "reconnect its MCP client",
                (http, token) => http.PostAsync($"mcp/{OpenCodeConfigWriter.McpServerName}/connect?{query}", null, token), _stopping.Token))
            {
                await EnsureSuccessAsync(connected, "reconnect its MCP client", _stopping.Token);
            }

            // OpenCode answers the connect request alike whether the new client connected or failed: its status says.
            using var status = await SendAsync(host, "report its MCP status", (http, token) => http.GetAsync($"mcp?{query}", token), _stopping.Token);
            await EnsureSuccessAsync(status, "report its MCP status", _stopping.Token);
            var servers = await status.Content.ReadFromJsonAsync<JsonElement>(_stopping.Token);
            return servers.ValueKind == JsonValueKind.Object && servers.TryGetProperty(OpenCodeConfigWriter.McpServerName, out var server)
                && server.TryGetProperty("status", out var state) && state.ValueEquals("connected")
                    ? null
                    : $"its MCP status is {(servers.ValueKind == JsonValueKind.Object && servers.TryGetProperty(OpenCodeConfigWriter.McpServerName, out var reported) ? reported.GetRawText() : "missing")}";
        }
        catch (Exception exception) when (exception is OublietteException or HttpRequestException or IOException or JsonException)
        {
            return exception.Message;
        }
    }

    public async Task DisconnectAsync(AgentHost host, string reason)
    {
        if (_connections.TryRemove(host.Key, out var connection))
        {
            await connection.DisposeAsync();
            hub.PublishLost(host, reason);
        }
    }

    /// <summary>
    /// One request to the agent, bounded. A connection that cannot connect (the container was restarted behind a reader
    /// that has not noticed yet) is dropped and made again once: nothing was sent on it. A request that hangs because the
    /// container is paused says so.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(AgentHost host, string what,
        Func<HttpClient, CancellationToken, Task<HttpResponseMessage>> send, CancellationToken cancellationToken)
    {
        try
        {
            return await SendBoundedAsync(host, what, send, cancellationToken);
        }
        catch (HttpRequestException exception) when (exception.HttpRequestError == HttpRequestError.ConnectionError)
        {
            if (_connections.TryGetValue(host.Key, out var stale))
            {
                _connections.TryRemove(new KeyValuePair<Guid, AgentConnection>(host.Key, stale));
                await stale.DisposeAsync();
            }

            await EnsureAgentAsync(host, cancellationToken);
            return await SendBoundedAsync(host, what, send, cancellationToken);
        }
    }

    private async Task<HttpResponseMessage> SendBoundedAsync(AgentHost host, string what,
        Func<HttpClient, CancellationToken, Task<HttpResponseMessage>> send, CancellationToken cancellationToken)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(CallTimeout);
        var call = send(Connection(host), bound.Token);
        try
        {
            if (await Task.WhenAny(call, Task.Delay(SlowCallCheck, bound.Token)) != call
                && await containers.StatusAsync(host, bound.Token) is { State: "paused" } status)
            {
                throw new ConflictException(ProjectContainers.PausedMessage(status.Name));
            }

            return await call;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ExternalFailureException($"the agent in container {ProjectContainers.NameOf(host)} did not answer within {CallTimeout.TotalSeconds:0} s (trying to {what})");
        }
        finally
        {
            // Leaving early (paused, timed out): end the request, and observe its failure.
            await bound.CancelAsync();
            _ = call.ContinueWith(static task => task.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
    }

    public async Task<IReadOnlySet<string>> BusySessionsAsync(AgentHost host, string directory, CancellationToken cancellationToken)
    {
        using var response = await Connection(host).GetAsync($"session/status?directory={Uri.EscapeDataString(directory)}", cancellationToken);
        await EnsureSuccessAsync(response, "report session status", cancellationToken);
        var statuses = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        return statuses.ValueKind == JsonValueKind.Object
            ? statuses.EnumerateObject()
                .Where(entry => !(entry.Value.TryGetProperty("type", out var type) && type.GetString() == "idle"))
                .Select(entry => entry.Name)
                .ToHashSet(StringComparer.Ordinal)
            : new HashSet<string>(StringComparer.Ordinal);
    }

    public async Task AbortAsync(AgentHost host, string agentSessionId, string directory, CancellationToken cancellationToken)
    {
        if (!_connections.TryGetValue(host.Key, out var connection))
        {
            return;
        }

        using var response = await connection.Http.PostAsync(
            $"session/{Uri.EscapeDataString(agentSessionId)}/abort?directory={Uri.EscapeDataString(directory)}", null, cancellationToken);
        await EnsureSuccessAsync(response, "abort the turn", cancellationToken);
    }

    public async Task CloseAsync(Guid projectId, CancellationToken cancellationToken)
    {
        // Every container of the project: the shared one and those of isolated workspaces.
        foreach (var (key, connection) in _connections.Where(pair => pair.Value.Host.Project.Id == projectId).ToList())
        {
            using (await _locks.AcquireAsync(key, cancellationToken))
            {
                if (_connections.TryRemove(new KeyValuePair<Guid, AgentConnection>(key, connection)))
                {
                    await connection.DisposeAsync();
                }
            }

            // Closing ends the reader before it can report the loss itself: running sessions hear it from here.
            hub.PublishLost(connection.Host, $"project {projectId:D} was deleted");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        foreach (var connection in _connections.Values)
        {
            await connection.DisposeAsync();
        }

        _stopping.Dispose();
    }

    private HttpClient Connection(AgentHost host) =>
        _connections.TryGetValue(host.Key, out var connection)
            ? connection.Http
            : throw new ExternalFailureException($"the agent in container {ProjectContainers.NameOf(host)} is not connected");

    private async Task StartAgentAsync(AgentHost host, CancellationToken cancellationToken)
    {
        // Written only into the root-owned folder the container mounts read-only; nothing in the agent's run folder is
        // written, chowned or followed (the agent can plant links there).
        var project = host.Project;
        var config = paths.AgentConfigDirectory(host);
        UnixFiles.EnsureRootFolder(config);
        var secret = await credentials.IssueAsync(host, cancellationToken);
        await UnixFiles.WriteInRootFolderAsync(config, "opencode.json", configWriter.Write(project, secret), ProjectContainers.AgentUid, ConfigMode, cancellationToken);
        await UnixFiles.WriteInRootFolderAsync(config, "start-agent.sh", StartScript, 0, ScriptMode, cancellationToken);
        var container = ProjectContainers.NameOf(host);
        await runtime.ExecDetachedAsync(container, ["sh", "-c", RelayScript], RelayUser, [], cancellationToken);
        await runtime.ExecDetachedAsync(
            container,
            ["sh", $"{ProjectContainers.AgentConfigMountPoint}/start-agent.sh"],
            ProjectContainers.AgentUser,
            [
                $"OPENCODE_CONFIG={ProjectContainers.AgentConfigMountPoint}/opencode.json",
                "HOME=/home/gogol",
                .. OfflineEnvironment,
            ],
            cancellationToken);
        LogStarting(logger, ProjectContainers.NameOf(host));
    }

    private async Task WaitHealthyAsync(AgentHost host, HttpClient http, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(StartTimeout);
        try
        {
            // Each probe has its own short timeout: a probe sent while OpenCode starts can hang.
            while (!await IsHealthyAsync(http, deadline.Token))
            {
                await Task.Delay(ProbeSpacing, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ExternalFailureException(
                $"the agent in container {ProjectContainers.NameOf(host)} did not answer within {StartTimeout.TotalSeconds:0} s (see {Path.GetRelativePath(paths.Root, paths.RunDirectory(host))}/agent.log under data/projects)");
        }
    }

    /// <summary>
    /// One health probe with a short timeout of its own: a probe sent while OpenCode starts can hang. A socket that is not
    /// the relay's (see <see cref="AgentSocket"/>) is not "unhealthy" but refused: its <see cref="ExternalFailureException"/> is thrown.
    /// </summary>
    internal static async Task<bool> IsHealthyAsync(HttpClient http, CancellationToken cancellationToken)
    {
        using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        probe.CancelAfter(ProbeTimeout);
        try
        {
            using var response = await http.GetAsync("global/health", probe.Token);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException exception) when (exception.InnerException is ExternalFailureException refused)
        {
            throw refused;
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task ReadEventsAsync(AgentHost host, AgentConnection connection, CancellationToken stopping)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, connection.Closing.Token);
        var token = linked.Token;
        var mapper = new OpenCodeEventMapper(config.Server.MaxEventBytes);
        while (!token.IsCancellationRequested)
        {
            try
            {
                await ReadOnOwnThreadAsync(() => ReadEventStream(host, connection, mapper, token), $"agent events {host.Key:N}");
            }
            catch (Exception) when (token.IsCancellationRequested)
            {
                // Closing disposes the stream under the reader, which then fails with whatever the read was doing.
                return;
            }
            catch (Exception exception) when (exception is HttpRequestException or IOException or JsonException)
            {
                LogStreamDropped(logger, ProjectContainers.NameOf(host), exception.Message);
            }

            // The stream ended: reconnect if the agent is still there, else tell the sessions it is gone. Callers that
            // need the agent meanwhile wait for this verdict (see IsConnectedAsync).
            connection.BeginLossCheck();
            try
            {
                if (await LostBecauseAsync(host, connection.Http, token) is { } reason)
                {
                    _connections.TryRemove(new KeyValuePair<Guid, AgentConnection>(host.Key, connection));
                    hub.PublishLost(host, reason);
                    return;
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                // Closed (project deleted, server stopping) while finding out why the stream ended.
                return;
            }
            finally
            {
                connection.EndLossCheck();
            }

            try
            {
                await Task.Delay(ProbeSpacing, token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Reads the agent's event stream until it ends, dispatching every event as it comes (blocking; see the caller).</summary>
    private void ReadEventStream(AgentHost host, AgentConnection connection, OpenCodeEventMapper mapper, CancellationToken token)
    {
        // The global stream carries every instance (one per session directory); /event only the server's own.
        using var request = new HttpRequestMessage(HttpMethod.Get, "global/event");
        using var response = connection.EventHttp.Send(request, HttpCompletionOption.ResponseHeadersRead, token);
        response.EnsureSuccessStatusCode();
        using var stopReading = token.Register(response.Dispose);
        using var stream = response.Content.ReadAsStream(token);
        ServerSentEventReader.ReadData(stream, data => Dispatch(host, connection, mapper, data),
            onSkipped: length => LogLineSkipped(logger, ProjectContainers.NameOf(host), length, ServerSentEventReader.MaxLineBytes));
    }

    /// <summary>
    /// Runs a blocking stream reader on a thread of its own, so that the kernel wakes it directly when events arrive
    /// (see <see cref="UnixSocketHttp.CreateForBlockingReads"/>). One such thread per running agent, idle between turns.
    /// </summary>
    private static Task ReadOnOwnThreadAsync(Action read, string name)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                read();
                done.SetResult();
            }
            catch (Exception exception)
            {
                done.SetException(exception);
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return done.Task;
    }

    private void Dispatch(AgentHost host, AgentConnection connection, OpenCodeEventMapper mapper, ReadOnlySequence<byte> data)
    {
        var projectId = host.Project.Id;
        if (OpenCodeDeltaReader.TryRead(data, out var delta, config.Server.MaxEventBytes))
        {
            if (delta is not null)
            {
                hub.Publish(projectId, delta);
            }

            return;
        }

        using var document = JsonDocument.Parse(data);
        var payload = document.RootElement.TryGetProperty("payload", out var wrapped) ? wrapped : document.RootElement;
        if (payload.TryGetProperty("type", out var type) && type.ValueEquals("server.connected"u8))
        {
            connection.Connected.TrySetResult();
            hub.PublishConnected(host);
            return;
        }

        if (mapper.Map(payload) is { } agentEvent)
        {
            hub.Publish(projectId, agentEvent);
        }
    }

    /// <summary>
    /// Why the agent is gone, or null when it still answers. A dropped stream often takes pooled connections with it,
    /// so the agent gets a few probes (each on a fresh try) before its sessions are failed; a stopped container fails at once.
    /// </summary>
    private async Task<string?> LostBecauseAsync(AgentHost host, HttpClient http, CancellationToken cancellationToken)
    {
        var status = await containers.StatusAsync(host, cancellationToken);
        if (!status.Running)
        {
            return $"container {status.Name} is {status.State}";
        }

        for (var attempt = 0; attempt < LossProbes; attempt++)
        {
            try
            {
                if (await IsHealthyAsync(http, cancellationToken))
                {
                    return null;
                }
            }
            catch (ExternalFailureException refused)
            {
                return refused.Message;
            }

            await Task.Delay(LossProbeSpacing, cancellationToken);
        }

        return $"the agent in container {status.Name} stopped answering";
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        throw new ExternalFailureException($"OpenCode could not {what}: HTTP {(int)response.StatusCode} {(response.StatusCode == HttpStatusCode.NotFound ? "(not found)" : "")} {body[..Math.Min(body.Length, 500)]}");
    }

    [LoggerMessage(EventId = 33, Level = LogLevel.Warning, Message = "the agent in container {Container} could not reconnect its MCP client for {Directory} (it keeps the tools it listed before; tried again at the next prompt): {Reason}")]
    private static partial void LogMcpReconnectFailed(ILogger logger, string container, string directory, string reason);

    [LoggerMessage(EventId = 30, Level = LogLevel.Information, Message = "starting the agent in container {Container}")]
    private static partial void LogStarting(ILogger logger, string container);

    [LoggerMessage(EventId = 32, Level = LogLevel.Warning, Message = "event stream of container {Container}: a line of {Length} bytes (more than {Limit}) was dropped")]
    private static partial void LogLineSkipped(ILogger logger, string container, long length, int limit);

    [LoggerMessage(EventId = 31, Level = LogLevel.Warning, Message = "event stream of container {Container} dropped: {Reason}")]
    private static partial void LogStreamDropped(ILogger logger, string container, string reason);

    private sealed class AgentConnection(HttpClient http, HttpClient eventHttp) : IAsyncDisposable
    {
        /// <summary>The container this connection reaches.</summary>
        public required AgentHost Host { get; init; }

        /// <summary>The agent was already running when this connection attached: this server process did not start it.</summary>
        public bool Adopted { get; init; }

        /// <summary>Per directory, the reconnect of an adopted agent's MCP client (see ReconnectMcpOnceAsync); null result when connected.</summary>
        public ConcurrentDictionary<string, TaskCompletionSource<string?>> McpReconnects { get; } = new(StringComparer.Ordinal);

        public HttpClient Http { get; } = http;

        /// <summary>The event stream's own client: its connection is read by a blocking thread.</summary>
        public HttpClient EventHttp { get; } = eventHttp;
        public Task Reader { get; set; } = Task.CompletedTask;
        public TaskCompletionSource Connected { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationTokenSource Closing { get; } = new();

        private TaskCompletionSource? _lossCheck;

        /// <summary>Set while the reader finds out whether the agent outlived its ended stream; completes with the verdict.</summary>
        public Task? LossCheck => Volatile.Read(ref _lossCheck)?.Task;

        public void BeginLossCheck() => Volatile.Write(ref _lossCheck, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        public void EndLossCheck() => Interlocked.Exchange(ref _lossCheck, null)?.TrySetResult();

        public async ValueTask DisposeAsync()
        {
            await Closing.CancelAsync();
            try
            {
                await Reader.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (TimeoutException)
            {
                // The reader is blocked in I/O; disposing the client below ends it.
            }

            Http.Dispose();
            EventHttp.Dispose();
            Closing.Dispose();
        }
    }
}
