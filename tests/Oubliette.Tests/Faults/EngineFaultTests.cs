using System.Net;
using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Oubliette.Testing;

namespace Oubliette.Tests.Faults;

/// <summary>
/// The real server process against a container engine that is missing or never answers, and against configs it must
/// refuse: clear errors, nothing left behind, no crash.
/// </summary>
public sealed class EngineFaultTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "oubliette-engine-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly List<System.Diagnostics.Process> _servers = [];

    private string ConfigFile => Path.Combine(_root, "config", "oubliette.jsonc");
    private string AddressFile => Path.Combine(_root, "data", "run", "oubliette.address");
    private string ProjectsDirectory => Path.Combine(_root, "data", "projects");

    public void Dispose()
    {
        foreach (var server in _servers)
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
                server.WaitForExit(10_000);
            }

            server.Dispose();
        }

        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task Hung_engine_the_server_serves_health_at_once_and_ready_names_the_runtime()
    {
        var secret = await InitAsync();
        var socket = Path.Combine(_root, "hung-docker.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socket));
        listener.Listen(64);
        var accepted = new List<Socket>();
        using var stop = new CancellationTokenSource();
        // Accepts every connection and never answers, as a wedged engine does.
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    accepted.Add(await listener.AcceptAsync(stop.Token));
                }
            }
            catch (OperationCanceledException)
            {
            }
        });

        var started = System.Diagnostics.Stopwatch.StartNew();
        var server = Start($"unix://{socket}");
        var address = await WaitForAddressAsync(server);
        using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
        var health = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(20), $"/health answered after {started.Elapsed}");

        var ready = await http.GetAsync("/ready");
        var body = await ready.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("container_runtime", body, StringComparison.Ordinal);
        Assert.Contains("failed", body, StringComparison.Ordinal);

        // Tools that need no engine still work, and the server is still up a while later.
        await using (var client = await McpTestClient.ConnectAsync(new Uri(address, "/mcp"), secret))
        {
            var tokens = await client.CallAsync("token", new { action = "list" });
            Assert.False(tokens.IsError, tokens.Text);
        }

        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(server.HasExited, $"the server exited with {(server.HasExited ? server.ExitCode : 0)}");
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);
        await stop.CancelAsync();
        await accepting;
        accepted.ForEach(connection => connection.Dispose());
    }

    [Fact]
    public async Task Missing_engine_project_create_fails_clearly_and_leaves_nothing()
    {
        var secret = await InitAsync();
        var missing = $"unix://{_root}/no-docker-here.sock";
        var server = Start(missing);
        var address = await WaitForAddressAsync(server);
        await using var client = await McpTestClient.ConnectAsync(new Uri(address, "/mcp"), secret);

        var outcome = await client.CallAsync("project", new { action = "create", name = "no-engine" });

        Assert.True(outcome.IsError);
        Assert.Contains(missing, outcome.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", outcome.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("An error occurred", outcome.Text, StringComparison.Ordinal);
        Assert.Empty(Directory.Exists(ProjectsDirectory) ? Directory.GetFileSystemEntries(ProjectsDirectory) : []);
        var list = await client.CallAsync("project", new { action = "list" });
        Assert.DoesNotContain("no-engine", list.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_with_duplicate_keys_is_refused_at_start_naming_the_key()
    {
        await InitAsync();
        var text = await File.ReadAllTextAsync(ConfigFile);
        await File.WriteAllTextAsync(ConfigFile, text.Replace("\"server\": {", "\"server\": { \"port\": 1, \"port\": 2,", StringComparison.Ordinal));

        var result = await OublietteProcess.RunAsync(["--dir", _root]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("server.port", result.Error, StringComparison.Ordinal);
        Assert.Contains("duplicate key", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_readable_by_others_is_refused_at_start_with_the_fix()
    {
        await InitAsync();
        File.SetUnixFileMode(ConfigFile, (UnixFileMode)Convert.ToInt32("644", 8));

        var result = await OublietteProcess.RunAsync(["--dir", _root]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(ConfigFile, result.Error, StringComparison.Ordinal);
        Assert.Contains("mode 0644", result.Error, StringComparison.Ordinal);
        Assert.Contains($"chmod 600 {ConfigFile}", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(AddressFile));
    }

    private async Task<string> InitAsync()
    {
        var init = await OublietteProcess.RunAsync(["init", "--dir", _root]);
        Assert.True(init.ExitCode == 0, init.Error);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(ConfigFile));
        await File.WriteAllTextAsync(ConfigFile, (await File.ReadAllTextAsync(ConfigFile)).Replace("127.0.0.1:8080", "127.0.0.1:0", StringComparison.Ordinal));
        return System.Text.RegularExpressions.Regex.Match(init.Output, "oub_[0-9a-f]{64}").Value;
    }

    private System.Diagnostics.Process Start(string dockerHost)
    {
        var server = OublietteProcess.Start(["--dir", _root], new Dictionary<string, string> { ["DOCKER_HOST"] = dockerHost });
        _ = server.StandardOutput.ReadToEndAsync();
        _ = server.StandardError.ReadToEndAsync();
        _servers.Add(server);
        return server;
    }

    private async Task<Uri> WaitForAddressAsync(System.Diagnostics.Process server)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && !server.HasExited)
        {
            if (File.Exists(AddressFile) && Uri.TryCreate((await File.ReadAllTextAsync(AddressFile)).Trim(), UriKind.Absolute, out var address))
            {
                return address;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"the server wrote no address (exited: {server.HasExited})");
    }
}
