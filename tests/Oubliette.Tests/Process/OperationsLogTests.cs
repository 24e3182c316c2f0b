using System.Net;
using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Oubliette.Testing;

namespace Oubliette.Tests.Process;

/// <summary>What the built executable writes to <c>data/logs/</c> when it fails to start and when it stops.</summary>
public sealed class OperationsLogTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "oubliette-oplog-" + Guid.NewGuid().ToString("N")[..10]);

    private string ConfigFile => Path.Combine(_root, "config", "oubliette.jsonc");
    private string AddressFile => Path.Combine(_root, "data", "run", "oubliette.address");
    private string LogsDirectory => Path.Combine(_root, "data", "logs");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task Sigterm_exits_0_and_the_log_says_what_the_shutdown_persisted_left_running_stopped_and_closed()
    {
        await InitAsync("127.0.0.1:0");
        using var server = OublietteProcess.Start(["--dir", _root]);
        var stdout = server.StandardOutput.ReadToEndAsync();
        await WaitForAddressAsync(server);

        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var log = await LogTextAsync();

        Assert.Equal(0, server.ExitCode);
        Assert.Contains("oubliette stopped", await stdout, StringComparison.Ordinal);
        Assert.Matches(@"INFO \S+ShutdownReportService: shutdown: 0 sessions persisted in data/projects \(0 active", log);
        Assert.Matches(@"shutdown: (\d+|unknown \(.+\)) project containers left running", log);
        Assert.True(log.Contains("shutdown: schedule runner stopped (runs in flight recorded as interrupted), cleanup and backups stopped", StringComparison.Ordinal), log);
        Assert.Contains("shutdown: databases closed (data/auth.db, data/schedules.db)", log, StringComparison.Ordinal);
        // In that order: the databases are closed last.
        Assert.True(log.IndexOf("sessions persisted", StringComparison.Ordinal) < log.IndexOf("databases closed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_config_error_at_start_up_is_also_in_data_logs()
    {
        await InitAsync("127.0.0.1:0");
        await File.WriteAllTextAsync(ConfigFile, """{"server": {"address": "127.0.0.1:0", "bogus": 1}}""");

        var result = await OublietteProcess.RunAsync(["--dir", _root]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("server.bogus", result.Error, StringComparison.Ordinal);
        var log = await LogTextAsync();
        Assert.Contains("CRIT Oubliette.Cli.ServeCommand: start-up failed: invalid config", log, StringComparison.Ordinal);
        Assert.Contains("server.bogus", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_port_in_use_at_start_up_is_also_in_data_logs()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        await InitAsync($"127.0.0.1:{port}");

        var result = await OublietteProcess.RunAsync(["--dir", _root]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"error: server.address 127.0.0.1:{port} is already in use", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Output + result.Error, StringComparison.Ordinal);
        var log = await LogTextAsync();
        Assert.Contains("start-up failed:", log, StringComparison.Ordinal);
        Assert.Contains(port.ToString(System.Globalization.CultureInfo.InvariantCulture), log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Container_refresh_from_the_cli_is_refused_while_the_server_runs_and_a_bad_project_id_is_a_usage_error()
    {
        await InitAsync("127.0.0.1:0");
        var badId = await OublietteProcess.RunAsync(["container", "refresh", "not-a-uuid", "--dir", _root]);
        using var server = OublietteProcess.Start(["--dir", _root]);
        await WaitForAddressAsync(server);
        var projectId = Guid.NewGuid().ToString("D");

        var refused = await OublietteProcess.RunAsync(["container", "refresh", projectId, "--dir", _root]);
        var listed = await OublietteProcess.RunAsync(["container", "list", "--dir", _root]);

        server.Kill(entireProcessTree: true);
        await server.WaitForExitAsync();
        Assert.Equal(2, badId.ExitCode);
        Assert.Contains("project-id 'not-a-uuid'", badId.Error, StringComparison.Ordinal);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"is running (pid {server.Id})", refused.Error, StringComparison.Ordinal);
        Assert.Contains("\"action\": \"refresh\"", refused.Error, StringComparison.Ordinal);
        Assert.Contains(projectId, refused.Error, StringComparison.Ordinal);
        Assert.True(listed.ExitCode == 0, listed.Error);
        Assert.Matches(@"NAME\s+PROJECT\s+TYPE\s+IMAGE\s+STATUS\s+CURRENT", listed.Output);
    }

    private async Task InitAsync(string address)
    {
        var init = await OublietteProcess.RunAsync(["init", "--dir", _root]);
        Assert.True(init.ExitCode == 0, init.Error);
        await File.WriteAllTextAsync(ConfigFile, (await File.ReadAllTextAsync(ConfigFile)).Replace("127.0.0.1:8080", address, StringComparison.Ordinal));
    }

    private async Task<string> LogTextAsync()
    {
        var files = Directory.Exists(LogsDirectory) ? Directory.GetFiles(LogsDirectory, "oubliette-*.log") : [];
        Assert.NotEmpty(files);
        var texts = new List<string>();
        foreach (var file in files.Order(StringComparer.Ordinal))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            texts.Add(await File.ReadAllTextAsync(file));
        }

        return string.Concat(texts);
    }

    private async Task WaitForAddressAsync(System.Diagnostics.Process server)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && !server.HasExited)
        {
            if (File.Exists(AddressFile))
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"the server did not publish its address (exited: {server.HasExited})");
    }
}
