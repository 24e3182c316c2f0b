using Microsoft.Data.Sqlite;
using Oubliette.Testing;

namespace Oubliette.Tests.Process;

/// <summary>The runbook's plain copy of <c>data/auth.db</c> beside a running server, and <c>oubliette backup</c>'s bad inputs.</summary>
public sealed class BackupCommandTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "oubliette-bkp-" + Guid.NewGuid().ToString("N")[..10]);

    private string ConfigFile => Path.Combine(_root, "config", "oubliette.jsonc");
    private string AddressFile => Path.Combine(_root, "data", "run", "oubliette.address");

    public void Dispose()
    {
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
        return System.Text.RegularExpressions.Regex.Match(init.Output, "oub_[0-9a-f]{64}").Value;
    }

    [Fact]
    public async Task A_token_revoked_just_before_cp_of_auth_db_beside_the_running_server_stays_revoked_in_the_copy()
    {
        var adminSecret = await InitOnFreePortAsync();
        using var server = OublietteProcess.Start(["--dir", _root]);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!File.Exists(AddressFile) && !server.HasExited && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        var address = new Uri((await File.ReadAllTextAsync(AddressFile)).Trim());
        string doomed;
        string kept;
        var database = Path.Combine(_root, "data", "auth.db");
        var copy = Path.Combine(_root, "data", "auth.db.backup");
        await using (var client = await McpTestClient.ConnectAsync(new Uri(address, "/mcp"), adminSecret))
        {
            kept = (await client.CallAsync("token", new { action = "create", name = "kept", scope = "admin:ro" })).Json.GetProperty("token").GetProperty("id").GetString()!;
            doomed = (await client.CallAsync("token", new { action = "create", name = "doomed", scope = "admin:ro" })).Json.GetProperty("token").GetProperty("id").GetString()!;
            var revoked = await client.CallAsync("token", new { action = "revoke", token_id = doomed });
            Assert.False(revoked.IsError, revoked.Text);
            // The runbook's command, while the server runs and holds its connections open.
            File.Copy(database, copy);
        }

        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await using var restored = new SqliteConnection($"Data Source={copy};Pooling=False;Mode=ReadOnly");
        await restored.OpenAsync();
        await using var command = restored.CreateCommand();
        command.CommandText = "SELECT group_concat(id, ',') FROM (SELECT id FROM tokens ORDER BY id);";
        var ids = ((string)(await command.ExecuteScalarAsync())!).Split(',');

        Assert.Contains(kept, ids);
        Assert.DoesNotContain(doomed, ids);
        Assert.Equal(2, ids.Length); // init's admin token and the kept one
    }

    [Fact]
    public async Task Backup_commands_name_the_bad_argument_and_change_nothing()
    {
        await InitOnFreePortAsync();

        var badProject = await RunAsync("backup", "create", "--project", "not-a-uuid");
        var missing = await RunAsync("backup", "verify", "nowhere.tar.gz");
        var nothing = await RunAsync("backup", "create");
        var list = await RunAsync("backup", "list");

        Assert.Equal(2, badProject.ExitCode);
        Assert.Contains("--project 'not-a-uuid' is not a project id", badProject.Error, StringComparison.Ordinal);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("archive 'nowhere.tar.gz' not found", missing.Error, StringComparison.Ordinal);
        Assert.Equal(0, nothing.ExitCode);
        Assert.Contains("no projects to back up", nothing.Output, StringComparison.Ordinal);
        Assert.Equal(0, list.ExitCode);
        Assert.Contains("no backups in " + Path.Combine(_root, "data", "backups"), list.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_root, "data", "backups")));
    }

    [Fact]
    public async Task The_server_refuses_to_start_on_an_auth_database_from_a_newer_release_with_a_clear_error()
    {
        await InitOnFreePortAsync();
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(_root, "data", "auth.db")};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version = 9;";
            await command.ExecuteNonQueryAsync();
        }

        var start = await RunAsync();

        Assert.Equal(1, start.ExitCode);
        Assert.Contains("auth.db has schema version 9, newer than the 1 this release knows", start.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(AddressFile));
    }
}
