using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Data.Sqlite;
using Oubliette.Testing;

namespace Oubliette.Tests.Process;

/// <summary>The built <c>oubliette</c> executable, run as separate processes the way an operator runs it.</summary>
public sealed class ProcessTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "oubliette-proc-" + Guid.NewGuid().ToString("N")[..10]);

    private string ConfigFile => Path.Combine(_root, "config", "oubliette.jsonc");
    private string AddressFile => Path.Combine(_root, "data", "run", "oubliette.address");
    private string PidFile => Path.Combine(_root, "data", "run", "oubliette.pid");

    public void Dispose()
    {
        if (File.Exists(PidFile) && int.TryParse(File.ReadAllText(PidFile), out var pid))
        {
            Signal(pid, "KILL");
        }

        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private Task<CommandResult> RunAsync(params string[] arguments) => OublietteProcess.RunAsync([.. arguments, "--dir", _root]);

    private async Task<string> InitOnFreePortAsync()
    {
        var init = await RunAsync("init");
        Assert.True(init.ExitCode == 0, init.Error);
        await File.WriteAllTextAsync(ConfigFile, (await File.ReadAllTextAsync(ConfigFile)).Replace("127.0.0.1:8080", "127.0.0.1:0", StringComparison.Ordinal));
        return SecretIn(init.Output);
    }

    private static string SecretIn(string output) =>
        System.Text.RegularExpressions.Regex.Match(output, "oub_[0-9a-f]{64}").Value is { Length: > 0 } secret
            ? secret
            : throw new InvalidOperationException($"no secret in: {output}");

    private async Task<Uri> WaitForAddressAsync(System.Diagnostics.Process server)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && !server.HasExited)
        {
            if (File.Exists(AddressFile) && Uri.TryCreate((await File.ReadAllTextAsync(AddressFile)).Trim(), UriKind.Absolute, out var address))
            {
                return address;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"the server did not publish its address (exited: {server.HasExited})");
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = System.Diagnostics.Process.Start("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    [Fact]
    public async Task Init_token_create_start_health_list_and_sigterm()
    {
        var adminSecret = await InitOnFreePortAsync();
        var mode = File.GetUnixFileMode(ConfigFile);
        var created = await RunAsync("token", "create", "--name", "ci", "--scope", "admin:ro", "--expires", "30d");
        var ciSecret = SecretIn(created.Output);

        using var server = OublietteProcess.Start(["--dir", _root]);
        var stdout = server.StandardOutput.ReadToEndAsync();
        var address = await WaitForAddressAsync(server);
        using var http = new HttpClient { BaseAddress = address };
        var health = await http.GetAsync("/health");
        var list = await RunAsync("token", "list");
        await using (var client = await McpTestClient.ConnectAsync(new Uri(address, "/mcp"), ciSecret))
        {
            Assert.False((await client.CallAsync("project", new { action = "options" })).IsError);
        }

        Signal(server.Id, "TERM");
        await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
        Assert.Equal(0, created.ExitCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(0, list.ExitCode);
        Assert.Contains("ci", list.Output, StringComparison.Ordinal);
        Assert.Contains("admin:ro", list.Output, StringComparison.Ordinal);
        Assert.Matches(@"ID\s+NAME\s+SCOPE\s+CREATED\s+LAST USED\s+EXPIRES", list.Output);
        Assert.DoesNotContain("oub_", list.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(adminSecret, list.Output, StringComparison.Ordinal);
        Assert.Equal(0, server.ExitCode);
        Assert.Contains("oubliette stopped", await stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(PidFile));
        Assert.False(File.Exists(AddressFile));
        var listAfter = await RunAsync("token", "list");
        Assert.DoesNotMatch(@"\bci\s+admin:ro\s+\S+ \S+\s+never", listAfter.Output);
    }

    [Fact]
    public async Task Daemon_status_stop_and_a_second_daemon_is_refused()
    {
        await InitOnFreePortAsync();

        var started = await RunAsync("--daemon");
        var status = await RunAsync("status");
        var second = await RunAsync("--daemon");
        var pid = int.Parse(await File.ReadAllTextAsync(PidFile), System.Globalization.CultureInfo.InvariantCulture);
        var stopped = await RunAsync("stop");
        var statusAfter = await RunAsync("status");
        var stopAgain = await RunAsync("stop");

        Assert.True(started.ExitCode == 0, started.Error);
        Assert.Matches(@"oubliette started: http://127\.0\.0\.1:\d+ \(pid \d+\)", started.Output);
        Assert.Contains($"pid {pid}", started.Output, StringComparison.Ordinal);
        Assert.Equal(0, status.ExitCode);
        Assert.Contains($"pid:     {pid}", status.Output, StringComparison.Ordinal);
        Assert.Contains("health:  ok", status.Output, StringComparison.Ordinal);
        Assert.Matches(@"uptime:  \d+\.\d\d:\d\d:\d\d", status.Output);
        Assert.Equal(1, second.ExitCode);
        Assert.Contains("already running", second.Error, StringComparison.Ordinal);
        Assert.Equal(0, stopped.ExitCode);
        Assert.Contains($"oubliette stopped (pid {pid})", stopped.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists($"/proc/{pid}"));
        Assert.Equal(1, statusAfter.ExitCode);
        Assert.Contains("not running", statusAfter.Output, StringComparison.Ordinal);
        Assert.Equal(0, stopAgain.ExitCode);
        Assert.Contains("nothing to stop", stopAgain.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_root, "data", "logs", "daemon.out")));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(_root, "data", "logs"), "oubliette-*.log"));
    }

    [Fact]
    public async Task Commands_without_dir_find_the_recorded_home_and_show_the_running_version()
    {
        await InitOnFreePortAsync();
        var record = Path.Combine(_root, "home-record");
        await File.WriteAllTextAsync(record, _root + "\n");
        var environment = new Dictionary<string, string> { ["OUBLIETTE_HOME_RECORD"] = record };
        var version = Oubliette.Operations.BuildVersion.Current;

        var started = await RunAsync("--daemon");
        var status = await OublietteProcess.RunAsync(["status"], environment: environment);
        var tokens = await OublietteProcess.RunAsync(["token", "list"], environment: environment);
        var versionBesideDir = await RunAsync("--version");
        var stopped = await OublietteProcess.RunAsync(["stop"], environment: environment);
        var log = string.Join("", Directory.GetFiles(Path.Combine(_root, "data", "logs"), "oubliette-*.log").Select(File.ReadAllText));

        Assert.True(started.ExitCode == 0, started.Error);
        Assert.True(status.ExitCode == 0, status.Output + status.Error);
        Assert.Contains($"version: {version}", status.Output, StringComparison.Ordinal);
        Assert.Contains($"home:    {_root}", status.Output, StringComparison.Ordinal);
        Assert.Contains("admin", tokens.Output, StringComparison.Ordinal);
        Assert.Equal((0, version), (versionBesideDir.ExitCode, versionBesideDir.Output.Trim()));
        Assert.Equal(0, stopped.ExitCode);
        Assert.Contains("oubliette stopped", stopped.Output, StringComparison.Ordinal);
        Assert.Matches($@"oubliette {System.Text.RegularExpressions.Regex.Escape(version)} started: home {System.Text.RegularExpressions.Regex.Escape(_root)}, listening on http://127\.0\.0\.1:\d+", log);
    }

    [Fact]
    public async Task Sigterm_mid_request_lets_the_request_finish_and_exits_zero()
    {
        var adminSecret = await InitOnFreePortAsync();
        using var server = OublietteProcess.Start(["--dir", _root]);
        var address = await WaitForAddressAsync(server);

        // A token-create call whose body is only half sent when SIGTERM arrives.
        var body = Encoding.UTF8.GetBytes("""{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"slow","version":"1"}}}""");
        using var socket = new TcpClient();
        await socket.ConnectAsync(address.Host, address.Port);
        await using var stream = socket.GetStream();
        var head = $"POST /mcp HTTP/1.1\r\nHost: {address.Authority}\r\nAuthorization: Bearer {adminSecret}\r\nContent-Type: application/json\r\n"
            + $"Accept: application/json, text/event-stream\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(body.AsMemory(0, body.Length / 2));
        await Task.Delay(300);

        Signal(server.Id, "TERM");
        await Task.Delay(500);
        Assert.False(server.HasExited, "the server exited while a request was still in flight");
        await stream.WriteAsync(body.AsMemory(body.Length / 2));
        using var reader = new StreamReader(stream);
        var response = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(20));
        await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.StartsWith("HTTP/1.1 200", response, StringComparison.Ordinal);
        Assert.Contains("\"serverInfo\"", response, StringComparison.Ordinal);
        Assert.Equal(0, server.ExitCode);
    }

    [Fact]
    public async Task Sigterm_under_load_loses_no_acknowledged_write()
    {
        var adminSecret = await InitOnFreePortAsync();
        using var server = OublietteProcess.Start(["--dir", _root]);
        var address = await WaitForAddressAsync(server);
        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();

        async Task CreateTokensAsync(int worker)
        {
            try
            {
                await using var client = await McpTestClient.ConnectAsync(new Uri(address, "/mcp"), adminSecret);
                for (var index = 0; !stop.IsCancellationRequested; index++)
                {
                    var outcome = await client.CallAsync("token", new { action = "create", name = $"load-{worker}-{index}", scope = "admin:ro" });
                    acknowledged.Add(outcome.Json.GetProperty("token").GetProperty("id").GetString()!);
                }
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                // The server went away mid-loop: every call acknowledged before that is what must survive.
            }
        }

        var workers = Enumerable.Range(0, 4).Select(CreateTokensAsync).ToArray();
        // Under load, not before: wait until writes are being acknowledged (a loaded machine starts slower), then a bit more.
        var loaded = Stopwatch.StartNew();
        while (acknowledged.IsEmpty && loaded.Elapsed < TimeSpan.FromSeconds(30) && workers.Any(worker => !worker.IsCompleted))
        {
            await Task.Delay(50);
        }

        await Task.Delay(500);
        Signal(server.Id, "TERM");
        await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(30));

        var list = await RunAsync("token", "list");
        Assert.Equal(0, server.ExitCode);
        Assert.NotEmpty(acknowledged);
        Assert.All(acknowledged, id => Assert.Contains(id, list.Output, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Runbook_pgrep_finds_the_server_and_sqlite_maintenance_is_safe_while_it_runs()
    {
        var adminSecret = await InitOnFreePortAsync();
        using var server = OublietteProcess.Start(["--dir", _root]);
        var address = await WaitForAddressAsync(server);
        var database = Path.Combine(_root, "data", "auth.db");
        await using var client = await McpTestClient.ConnectAsync(new Uri(address, "/mcp"), adminSecret);
        await client.CallAsync("token", new { action = "create", name = "before-vacuum", scope = "admin:ro" });

        var pgrep = await RunToolAsync("pgrep", "-f", "oubliette");
        File.Copy(database, database + ".backup");
        var vacuum = await RunToolAsync("sqlite3", database, "VACUUM;");
        var integrity = await RunToolAsync("sqlite3", database + ".backup", "PRAGMA integrity_check;");
        var created = await client.CallAsync("token", new { action = "create", name = "after-vacuum", scope = "admin:ro" });
        var listed = await client.CallAsync("token", new { action = "list" });
        var liveIntegrity = await RunToolAsync("sqlite3", database, "PRAGMA integrity_check;");
        Signal(server.Id, "TERM");
        await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Contains(server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), pgrep.Output.Split('\n'));
        Assert.True(vacuum.ExitCode == 0, vacuum.Error);
        Assert.Equal("ok", integrity.Output.Trim());
        Assert.False(created.IsError, created.Text);
        Assert.Contains("before-vacuum", listed.Text, StringComparison.Ordinal);
        Assert.Contains("after-vacuum", listed.Text, StringComparison.Ordinal);
        Assert.Equal("ok", liveIntegrity.Output.Trim());
        Assert.Equal(0, server.ExitCode);
    }

    private static async Task<CommandResult> RunToolAsync(string tool, params string[] arguments)
    {
        var startInfo = new System.Diagnostics.ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // Installed by the test command (scripts/install-prerequisites.sh); a missing tool fails this test loudly.
        using var process = System.Diagnostics.Process.Start(startInfo)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new CommandResult(process.ExitCode, output, error);
    }

    [Fact]
    public async Task Broken_config_prints_every_problem_and_exits_1()
    {
        await InitOnFreePortAsync();
        await File.WriteAllTextAsync(ConfigFile, """
            {
              "server": { "address": "nowhere" },
              "defaults": { "limits": { "max_cost_usd": -5 }, "agent": { "autonomy": "total" } },
              "mystery": true,
            }
            """);

        var foreground = await RunAsync();
        var daemon = await RunAsync("--daemon");

        foreach (var result in new[] { foreground, daemon })
        {
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("4 problems", result.Error, StringComparison.Ordinal);
            Assert.Contains("server.address: 'nowhere' is not a host:port address", result.Error, StringComparison.Ordinal);
            Assert.Contains("defaults.limits.max_cost_usd: -5 is out of range", result.Error, StringComparison.Ordinal);
            Assert.Contains("defaults.agent.autonomy: 'total' is not allowed", result.Error, StringComparison.Ordinal);
            Assert.Contains("mystery: unknown key", result.Error, StringComparison.Ordinal);
        }

        Assert.False(File.Exists(PidFile));
    }

    [Fact]
    public async Task Auth_db_holds_no_secret()
    {
        var adminSecret = await InitOnFreePortAsync();
        var other = SecretIn((await RunAsync("token", "create", "--name", "x", "--scope", "admin")).Output);

        var cells = new List<string>();
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(_root, "data", "auth.db")};Mode=ReadOnly;Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT * FROM tokens";
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                for (var column = 0; column < reader.FieldCount; column++)
                {
                    cells.Add(reader.GetValue(column) is byte[] bytes ? Convert.ToHexStringLower(bytes) : reader.GetValue(column).ToString() ?? "");
                }
            }
        }

        var rawFiles = Directory.GetFiles(Path.Combine(_root, "data"), "auth.db*").Select(File.ReadAllBytes).Select(Encoding.Latin1.GetString).ToList();
        var hexPart = other[4..];
        Assert.Equal(2 * 7, cells.Count);
        foreach (var secret in new[] { adminSecret, other })
        {
            Assert.DoesNotContain(cells, cell => cell.Contains(secret[4..], StringComparison.Ordinal));
            Assert.All(rawFiles, raw => Assert.DoesNotContain(secret[4..], raw, StringComparison.Ordinal));
        }

        Assert.All(rawFiles, raw => Assert.DoesNotContain(Encoding.Latin1.GetString(Convert.FromHexString(hexPart)), raw, StringComparison.Ordinal));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_root, "data", "auth.db")));
    }

    [Fact]
    public async Task Usage_errors_exit_2_and_failures_exit_1_with_clear_messages()
    {
        await InitOnFreePortAsync();

        var missingScope = await RunAsync("token", "create", "--name", "x");
        var badScope = await RunAsync("token", "create", "--name", "x", "--scope", "project:oops");
        var unknownVerb = await RunAsync("frobnicate");
        var unknownToken = await RunAsync("token", "revoke", "tok_unknown1");
        var reinit = await RunAsync("init");
        var list = await RunAsync("token", "list");

        Assert.Equal(2, missingScope.ExitCode);
        Assert.Contains("--scope", missingScope.Error, StringComparison.Ordinal);
        Assert.Equal(2, badScope.ExitCode);
        Assert.Contains("scope 'project:oops' is not valid", badScope.Error, StringComparison.Ordinal);
        Assert.Equal(2, unknownVerb.ExitCode);
        Assert.Equal(1, unknownToken.ExitCode);
        Assert.Contains("token_id 'tok_unknown1' not found", unknownToken.Error, StringComparison.Ordinal);
        Assert.Equal(1, reinit.ExitCode);
        Assert.Contains("--force", reinit.Error, StringComparison.Ordinal);
        Assert.Single(list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1));
        var audit = await File.ReadAllTextAsync(Path.Combine(_root, "data", "logs", "audit.log"));
        Assert.Contains("\"action\":\"token.revoke\",\"result\":\"not_found\"", audit, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Init_force_rewrites_the_config_and_commands_without_a_home_say_so()
    {
        var noHome = await RunAsync("token", "list");
        await InitOnFreePortAsync();
        var forced = await RunAsync("init", "--force");

        Assert.Equal(1, noHome.ExitCode);
        Assert.Contains("run 'oubliette init'", noHome.Error, StringComparison.Ordinal);
        Assert.Equal(0, forced.ExitCode);
        Assert.Contains("127.0.0.1:8080", await File.ReadAllTextAsync(ConfigFile), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Home_comes_from_OUBLIETTE_HOME_when_no_dir_is_given()
    {
        var init = await OublietteProcess.RunAsync(["init"], environment: new Dictionary<string, string> { ["OUBLIETTE_HOME"] = _root });

        Assert.Equal(0, init.ExitCode);
        Assert.True(File.Exists(ConfigFile));
    }

    [Fact]
    public async Task Version_and_help_exit_0()
    {
        var version = await OublietteProcess.RunAsync(["--version"]);
        var help = await OublietteProcess.RunAsync(["--help"]);

        Assert.Equal(0, version.ExitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+", version.Output);
        Assert.Equal(0, help.ExitCode);
        foreach (var verb in new[] { "init", "token", "stop", "status", "--daemon", "--dir" })
        {
            Assert.Contains(verb, help.Output, StringComparison.Ordinal);
        }
    }
}
