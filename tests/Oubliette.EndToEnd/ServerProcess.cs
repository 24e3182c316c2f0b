using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ModelContextProtocol.Client;
using Oubliette.Projects;
using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>
/// The built <c>oubliette</c> executable in a process of its own, on a test home made from a config, with an admin MCP
/// client: for what the in-process server cannot show (the resident set the host pays, a kill -9, real clients). Containers
/// of a separate process carry no test label: every project it lists at the end is deleted and its container removed.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly DockerEnvironment _docker;
    private readonly ScriptedModelServer? _model;
    private readonly ConcurrentQueue<string> _log;
    private readonly List<Guid> _projects = [];
    private Process _process;

    private ServerProcess(DockerEnvironment docker, ScriptedModelServer? model, TestHome home, ConcurrentQueue<string> log, Process process, Uri address, McpClient admin)
    {
        _docker = docker;
        _model = model;
        _log = log;
        Home = home;
        _process = process;
        Address = address;
        Admin = admin;
    }

    /// <summary>The scripted model handed to <see cref="StartAsync"/> (disposed with the server).</summary>
    public ScriptedModelServer Model => _model ?? throw new InvalidOperationException("this server was started without a model of its own");

    public TestHome Home { get; }
    public Uri Address { get; private set; }
    public McpClient Admin { get; private set; }

    /// <summary>
    /// Starts the executable on a new test home made from <paramref name="config"/>; <paramref name="ownedModel"/>, when
    /// given, is disposed with the server.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(DockerEnvironment docker, string config, ScriptedModelServer? ownedModel = null)
    {
        var home = await TestHome.CreateAsync(config);
        var log = new ConcurrentQueue<string>();
        var (process, address, admin) = await LaunchAsync(home, log);
        return new ServerProcess(docker, ownedModel, home, log, process, address, admin);
    }

    private static async Task<(Process Process, Uri Address, McpClient Admin)> LaunchAsync(TestHome home, ConcurrentQueue<string> log)
    {
        File.Delete(home.Home.AddressFile);
        var process = OublietteProcess.Start(["--dir", home.Root]);
        // Nobody reads the console as it comes: keep its tail for failure messages, so that a full pipe never blocks it.
        process.OutputDataReceived += (_, line) => Keep(log, line.Data);
        process.ErrorDataReceived += (_, line) => Keep(log, line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!File.Exists(home.Home.AddressFile) && !process.HasExited && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        var text = File.Exists(home.Home.AddressFile) ? (await File.ReadAllTextAsync(home.Home.AddressFile)).Trim() : "";
        if (!Uri.TryCreate(text, UriKind.Absolute, out var address))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"the server did not publish its address (exited: {process.HasExited}):\n{string.Join('\n', log)}");
        }

        var admin = await McpTestClient.ConnectAsync(new Uri(address, "/mcp"), home.AdminSecret);
        return (process, address, admin);
    }

    private static void Keep(ConcurrentQueue<string> log, string? line)
    {
        if (line is null)
        {
            return;
        }

        log.Enqueue(line);
        while (log.Count > 200 && log.TryDequeue(out _))
        {
        }
    }

    public string LogTail() => string.Join('\n', _log.TakeLast(60));

    /// <summary>
    /// Kills the process with SIGKILL (no graceful stop: nothing is flushed or recorded on the way out), waits
    /// <paramref name="downtime"/>, and starts the executable again on the same home; <see cref="Admin"/> is a new client.
    /// </summary>
    public async Task KillAndRestartAsync(TimeSpan downtime)
    {
        await Admin.DisposeAsync();
        using (var kill = Process.Start("kill", ["-KILL", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        _process.Dispose();
        await Task.Delay(downtime);
        (_process, Address, Admin) = await LaunchAsync(Home, _log);
    }

    /// <summary>
    /// Stops the process gracefully (SIGTERM, as <c>oubliette stop</c> does), runs <paramref name="whileStopped"/>, and
    /// starts the executable again on the same home; <see cref="Admin"/> is a new client.
    /// </summary>
    public async Task StopAndStartAsync(Func<Task> whileStopped)
    {
        await Admin.DisposeAsync();
        using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await term.WaitForExitAsync();
        }

        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(_process.ExitCode == 0, $"the server exited with {_process.ExitCode}:\n{LogTail()}");
        _process.Dispose();
        await whileStopped();
        (_process, Address, Admin) = await LaunchAsync(Home, _log);
    }

    public async Task<McpClient> ConnectAsync(string secret) => await McpTestClient.ConnectAsync(new Uri(Address, "/mcp"), secret);

    public async Task<Guid> CreateProjectAsync(string name)
    {
        var outcome = await Admin.CallAsync("project", new { action = "create", name, container_type = "base" });
        Assert.False(outcome.IsError, outcome.Text);
        var id = outcome.Json.GetProperty("project").GetProperty("id").GetGuid();
        _projects.Add(id);
        return id;
    }

    /// <summary>Spawns a new session with <paramref name="prompt"/> and waits until its turn is over; returns its id.</summary>
    public async Task<string> RunTurnAsync(McpClient client, Guid project, string prompt)
    {
        var spawned = await client.CallAsync("session", new { action = "spawn", project_id = project.ToString("D"), prompt, new_session = true });
        Assert.False(spawned.IsError, spawned.Text);
        var sessionId = spawned.Json.GetProperty("session_id").GetString()!;
        var waited = await client.CallAsync("session", new { action = "wait", session_id = sessionId, until = "idle", timeout_seconds = 120 });
        Assert.False(waited.IsError, waited.Text);
        Assert.True(waited.Json.GetProperty("reached").GetBoolean(), $"session {sessionId} did not finish its turn: {waited.Text}");
        return sessionId;
    }

    /// <summary>
    /// A first small turn, which starts the project's agent. On a loaded machine OpenCode may take longer to start
    /// than the server waits; the start is not what these tests measure, so it is tried again a couple of times.
    /// </summary>
    public async Task WarmUpAsync(McpClient client, Guid project, string prompt)
    {
        for (var attempt = 1; ; attempt++)
        {
            var spawned = await client.CallAsync("session", new { action = "spawn", project_id = project.ToString("D"), prompt, new_session = true });
            if (spawned.IsError && attempt < 3 && spawned.Text.Contains("did not answer within", StringComparison.Ordinal))
            {
                continue;
            }

            Assert.False(spawned.IsError, spawned.Text);
            var sessionId = spawned.Json.GetProperty("session_id").GetString()!;
            var waited = await client.CallAsync("session", new { action = "wait", session_id = sessionId, until = "idle", timeout_seconds = 120 });
            Assert.True(waited.Json.GetProperty("reached").GetBoolean(), $"session {sessionId} did not finish its turn: {waited.Text}");
            return;
        }
    }

    public async Task<JsonElement> SessionAsync(string sessionId) =>
        (await Admin.CallAsync("session", new { action = "get", session_id = sessionId })).Json.GetProperty("session");

    /// <summary>The managed heap the server reports (<c>dotnet_total_memory_bytes</c> on /metrics), in MiB.</summary>
    public async Task<long> ManagedHeapMiBAsync()
    {
        using var http = new HttpClient { BaseAddress = Address };
        var metrics = await http.GetStringAsync("/metrics");
        var line = metrics.Split('\n').Single(line => line.StartsWith("dotnet_total_memory_bytes ", StringComparison.Ordinal));
        return (long)double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture) / (1024 * 1024);
    }

    /// <summary>The server's resident set now (VmRSS), in MiB.</summary>
    public long ResidentMiB() => StatusKiB("VmRSS:") / 1024;

    /// <summary>The highest resident set the server has had (VmHWM), in MiB.</summary>
    public long PeakResidentMiB() => StatusKiB("VmHWM:") / 1024;

    private long StatusKiB(string field)
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").Single(line => line.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        // Tests may make projects of their own (the conformance suite does): remove every project's container, whoever made it.
        var projects = new HashSet<Guid>(_projects);
        try
        {
            var listed = await Admin.CallAsync("project", new { action = "list", limit = 1000 });
            if (!listed.IsError)
            {
                projects.UnionWith(listed.Json.GetProperty("projects").EnumerateArray().Select(item => item.GetProperty("id").GetGuid()));
            }
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // A server hurt by the test may not answer: the projects it was seen to make are still removed below.
        }

        foreach (var project in projects)
        {
            try
            {
                await Admin.CallAsync("project", new { action = "delete", project_id = project.ToString("D"), force = true });
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                // The container is removed below either way.
            }

            await _docker.Runtime.RemoveAsync(ProjectContainers.NameOf(project), CancellationToken.None);
        }

        await Admin.DisposeAsync();
        if (!_process.HasExited)
        {
            using var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
            await term.WaitForExitAsync();
            try
            {
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
        await Home.DisposeAsync();
        if (_model is not null)
        {
            await _model.DisposeAsync();
        }
    }
}
