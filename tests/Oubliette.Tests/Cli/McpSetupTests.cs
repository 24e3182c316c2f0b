using System.Text.Json.Nodes;
using Oubliette.Auth;
using Oubliette.Cli;
using Oubliette.Testing;

namespace Oubliette.Tests.Cli;

/// <summary><c>oubliette mcp --setup</c> on temp files: each client's format, merging, refusals, token replacement.</summary>
public sealed class McpSetupTests
{
    private static async Task<TokenRecord?> AuthenticateAsync(CliHarness harness, string secret)
    {
        var (store, service) = TestHome.OpenTokens(harness.Home.Home, TimeProvider.System);
        await store.InitializeAsync(CancellationToken.None);
        return (await service.AuthenticateAsync(secret, CancellationToken.None)).Token;
    }

    private static async Task<IReadOnlyList<TokenRecord>> TokensNamedAsync(CliHarness harness, string name)
    {
        var (store, _) = TestHome.OpenTokens(harness.Home.Home, TimeProvider.System);
        return [.. (await store.ListAsync(CancellationToken.None)).Where(token => token.Name == name)];
    }

    private static string SecretOf(string header) =>
        header.StartsWith("Bearer oub_", StringComparison.Ordinal) ? header["Bearer ".Length..] : throw new InvalidOperationException($"not a bearer header: {header}");

    /// <summary>The secret in the entry, after checking the entry's shape as the client reads it.</summary>
    private static string CheckEntry(string client, JsonNode entry)
    {
        const string url = "http://127.0.0.1:8080/mcp";
        switch (client)
        {
            case "claude-code" or "vscode":
                Assert.Equal("http", (string?)entry["type"]);
                Assert.Equal(url, (string?)entry["url"]);
                return SecretOf((string)entry["headers"]!["Authorization"]!);
            case "cursor":
                Assert.Null(entry["type"]);
                Assert.Equal(url, (string?)entry["url"]);
                return SecretOf((string)entry["headers"]!["Authorization"]!);
            case "opencode":
                Assert.Equal("remote", (string?)entry["type"]);
                Assert.Equal(url, (string?)entry["url"]);
                Assert.True((bool?)entry["enabled"]);
                return SecretOf((string)entry["headers"]!["Authorization"]!);
            case "claude":
                Assert.Equal("npx", (string?)entry["command"]);
                Assert.Equal(["-y", McpClientProfile.McpRemotePackage, url, "--allow-http", "--header", "Authorization:${OUBLIETTE_AUTHORIZATION}"],
                    entry["args"]!.AsArray().Select(arg => (string)arg!).ToArray());
                return SecretOf((string)entry["env"]!["OUBLIETTE_AUTHORIZATION"]!);
            default:
                throw new InvalidOperationException(client);
        }
    }

    private static (string Path, string Section) DefaultFile(CliHarness harness, string client) => client switch
    {
        "claude-code" => (Path.Combine(harness.WorkingDirectory, ".mcp.json"), "mcpServers"),
        "claude" => (Path.Combine(harness.ConfigHome, "Claude", "claude_desktop_config.json"), "mcpServers"),
        "cursor" => (Path.Combine(harness.UserHome, ".cursor", "mcp.json"), "mcpServers"),
        "opencode" => (Path.Combine(harness.WorkingDirectory, "opencode.json"), "mcp"),
        "vscode" => (Path.Combine(harness.WorkingDirectory, ".vscode", "mcp.json"), "servers"),
        _ => throw new InvalidOperationException(client),
    };

    [Theory]
    [InlineData("claude-code")]
    [InlineData("claude")]
    [InlineData("cursor")]
    [InlineData("opencode")]
    [InlineData("vscode")]
    public async Task Setup_merges_the_entry_into_the_clients_default_file_keeping_every_other_entry(string client)
    {
        await using var harness = await CliHarness.CreateAsync();
        var (path, section) = DefaultFile(harness, client);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, $$$"""{"theme":"dark","{{{section}}}":{"other":{"command":"other-server","args":["--x"]}},"nested":{"keep":[1,2]}}""");

        var result = await harness.RunAsync("mcp", "--setup", client);

        Assert.True(result.ExitCode == 0, result.Error);
        var root = JsonNode.Parse(await File.ReadAllTextAsync(path))!;
        Assert.Equal("dark", (string?)root["theme"]);
        Assert.Equal("""{"keep":[1,2]}""", root["nested"]!.ToJsonString());
        Assert.Equal("""{"command":"other-server","args":["--x"]}""", root[section]!["other"]!.ToJsonString());
        var secret = CheckEntry(client, root[section]![McpSetupCommand.ServerName]!);
        var token = await AuthenticateAsync(harness, secret);
        Assert.NotNull(token);
        Assert.Equal(($"mcp-{client}", "admin"), (token.Name, token.Scope.ToString()));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Contains(path, result.Output, StringComparison.Ordinal);
        Assert.Contains(token.Id, result.Output, StringComparison.Ordinal);
        Assert.Contains("no restart is needed", result.Output, StringComparison.Ordinal);
        Assert.Contains("Next: ", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("oub_", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Setup_creates_a_missing_file_and_folder_with_only_its_entry()
    {
        await using var harness = await CliHarness.CreateAsync();

        var result = await harness.RunAsync("mcp", "--setup", "opencode", "--user");

        Assert.True(result.ExitCode == 0, result.Error);
        var path = Path.Combine(harness.ConfigHome, "opencode", "opencode.json");
        var root = JsonNode.Parse(await File.ReadAllTextAsync(path))!.AsObject();
        Assert.Equal(["$schema", "mcp"], root.Select(property => property.Key).ToArray());
        Assert.Equal([McpSetupCommand.ServerName], root["mcp"]!.AsObject().Select(property => property.Key).ToArray());
    }

    [Theory]
    [InlineData("claude-code", ".claude.json")]
    [InlineData("vscode", ".config/Code/User/mcp.json")]
    public async Task User_flag_writes_the_clients_user_wide_file(string client, string relative)
    {
        await using var harness = await CliHarness.CreateAsync();

        var result = await harness.RunAsync("mcp", "--setup", client, "--user");

        Assert.True(result.ExitCode == 0, result.Error);
        var root = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(harness.UserHome, relative)))!;
        Assert.NotNull(root[client == "vscode" ? "servers" : "mcpServers"]![McpSetupCommand.ServerName]);
        Assert.Empty(Directory.GetFileSystemEntries(harness.WorkingDirectory));
    }

    [Fact]
    public async Task Rerun_replaces_the_token_and_revokes_the_old_one()
    {
        await using var harness = await CliHarness.CreateAsync();
        var path = Path.Combine(harness.Scratch, "claude.json");

        var first = await harness.RunAsync("mcp", "--setup", "claude-code", "--config", path);
        var firstSecret = CheckEntry("claude-code", JsonNode.Parse(await File.ReadAllTextAsync(path))!["mcpServers"]!["oubliette"]!);
        var second = await harness.RunAsync("mcp", "--setup", "claude-code", "--config", path, "--scope", "admin:ro");
        var secondSecret = CheckEntry("claude-code", JsonNode.Parse(await File.ReadAllTextAsync(path))!["mcpServers"]!["oubliette"]!);

        Assert.Equal((0, 0), (first.ExitCode, second.ExitCode));
        Assert.NotEqual(firstSecret, secondSecret);
        Assert.Null(await AuthenticateAsync(harness, firstSecret));
        var current = await AuthenticateAsync(harness, secondSecret);
        Assert.Equal("admin:ro", current?.Scope.ToString());
        var named = await TokensNamedAsync(harness, "mcp-claude-code");
        Assert.Equal(current?.Id, Assert.Single(named).Id);
        Assert.Contains("revoked: tok_", second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Setup_in_a_second_folder_leaves_the_first_folders_token_working()
    {
        await using var harness = await CliHarness.CreateAsync();
        var first = Path.Combine(harness.Scratch, "one", ".mcp.json");
        var second = Path.Combine(harness.Scratch, "two", ".mcp.json");
        Directory.CreateDirectory(Path.GetDirectoryName(first)!);
        Directory.CreateDirectory(Path.GetDirectoryName(second)!);

        var one = await harness.RunAsync("mcp", "--setup", "claude-code", "--config", first);
        var two = await harness.RunAsync("mcp", "--setup", "claude-code", "--config", second);

        Assert.Equal((0, 0), (one.ExitCode, two.ExitCode));
        var firstSecret = CheckEntry("claude-code", JsonNode.Parse(await File.ReadAllTextAsync(first))!["mcpServers"]!["oubliette"]!);
        var secondSecret = CheckEntry("claude-code", JsonNode.Parse(await File.ReadAllTextAsync(second))!["mcpServers"]!["oubliette"]!);
        Assert.NotNull(await AuthenticateAsync(harness, firstSecret));
        Assert.NotNull(await AuthenticateAsync(harness, secondSecret));
        Assert.DoesNotContain("revoked", two.Output, StringComparison.Ordinal);
        Assert.Equal(2, (await TokensNamedAsync(harness, "mcp-claude-code")).Count);
    }

    [Fact]
    public async Task A_file_inside_a_git_work_tree_is_added_once_to_its_info_exclude()
    {
        await using var harness = await CliHarness.CreateAsync();
        var repository = Path.Combine(harness.Scratch, "repo");
        Directory.CreateDirectory(Path.Combine(repository, ".git", "info"));
        await File.WriteAllTextAsync(Path.Combine(repository, ".git", "info", "exclude"), "# git ls-files --others --exclude-from=.git/info/exclude\n*.swp");
        var path = Path.Combine(repository, "sub", ".mcp.json");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);

        var first = await harness.RunAsync("mcp", "--setup", "claude-code", "--config", path);
        var again = await harness.RunAsync("mcp", "--setup", "claude-code", "--config", path);

        Assert.Equal((0, 0), (first.ExitCode, again.ExitCode));
        var lines = await File.ReadAllLinesAsync(Path.Combine(repository, ".git", "info", "exclude"));
        Assert.Equal("*.swp", lines[1]);
        Assert.Single(lines, line => line == "/sub/.mcp.json");
        Assert.Contains("added to " + Path.Combine(repository, ".git", "info", "exclude"), first.Output, StringComparison.Ordinal);
        Assert.Contains("revoked: tok_", again.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Name_option_names_the_token_and_leaves_other_clients_tokens_alone()
    {
        await using var harness = await CliHarness.CreateAsync();

        var cursor = await harness.RunAsync("mcp", "--setup", "cursor");
        var named = await harness.RunAsync("mcp", "--setup", "cursor", "--name", "laptop-cursor", "--config", Path.Combine(harness.Scratch, "other.json"));

        Assert.Equal((0, 0), (cursor.ExitCode, named.ExitCode));
        Assert.Single(await TokensNamedAsync(harness, "mcp-cursor"));
        Assert.Single(await TokensNamedAsync(harness, "laptop-cursor"));
    }

    [Theory]
    [InlineData("{ // a comment\n \"mcpServers\": {} }", "is not JSON")]
    [InlineData("{\"mcpServers\": {},}", "is not JSON")]
    [InlineData("[1, 2]", "is not an object")]
    [InlineData("{\"mcpServers\": [\"x\"]}", "'mcpServers' in")]
    public async Task A_file_that_is_not_a_JSON_object_is_refused_and_nothing_changes(string content, string reason)
    {
        await using var harness = await CliHarness.CreateAsync();
        var path = Path.Combine(harness.WorkingDirectory, ".mcp.json");
        await File.WriteAllTextAsync(path, content);
        var before = File.GetUnixFileMode(path);

        var result = await harness.RunAsync("mcp", "--setup", "claude-code");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(path, result.Error, StringComparison.Ordinal);
        Assert.Contains(reason, result.Error, StringComparison.Ordinal);
        Assert.Contains("nothing was changed", result.Error, StringComparison.Ordinal);
        Assert.Equal(content, await File.ReadAllTextAsync(path));
        Assert.Equal(before, File.GetUnixFileMode(path));
        Assert.Empty(await TokensNamedAsync(harness, "mcp-claude-code"));
        Assert.Single(Directory.GetFiles(harness.WorkingDirectory));
    }

    [Fact]
    public async Task Attack_a_config_file_in_a_project_folder_or_linked_there_by_an_agent_is_refused_and_no_token_is_made()
    {
        await using var harness = await CliHarness.CreateAsync();
        var workspace = Path.Combine(harness.Home.Home.ProjectsDirectory, Guid.NewGuid().ToString("D"), "workspaces", Guid.NewGuid().ToString("D"));
        Directory.CreateDirectory(workspace);
        // An agent's repository, checked out by the operator, whose .mcp.json is a link into the agent's workspace.
        File.CreateSymbolicLink(Path.Combine(harness.WorkingDirectory, ".mcp.json"), Path.Combine(workspace, "leak.json"));
        Directory.CreateSymbolicLink(Path.Combine(harness.WorkingDirectory, ".vscode"), workspace);

        var direct = await harness.RunAsync("mcp", "--setup", "opencode", "--config", Path.Combine(workspace, "opencode.json"));
        var linked = await harness.RunAsync("mcp", "--setup", "claude-code");
        var linkedFolder = await harness.RunAsync("mcp", "--setup", "vscode");

        Assert.All([direct, linked, linkedFolder], result =>
        {
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("where project containers can read and replace files", result.Error, StringComparison.Ordinal);
        });
        Assert.Contains($"resolves to {Path.Combine(workspace, "leak.json")}", linked.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(workspace));
        Assert.Empty(await TokensNamedAsync(harness, "mcp-opencode"));
        Assert.Empty(await TokensNamedAsync(harness, "mcp-claude-code"));
        Assert.Empty(await TokensNamedAsync(harness, "mcp-vscode"));
    }

    [Fact]
    public async Task A_bad_scope_is_a_usage_error_and_writes_nothing()
    {
        await using var harness = await CliHarness.CreateAsync();

        var result = await harness.RunAsync("mcp", "--setup", "vscode", "--scope", "root");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("root", result.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(harness.WorkingDirectory));
        Assert.Empty(await TokensNamedAsync(harness, "mcp-vscode"));
    }

    [Fact]
    public async Task An_unknown_client_is_a_usage_error_listing_the_clients()
    {
        await using var harness = await CliHarness.CreateAsync();

        var result = await harness.RunAsync("mcp", "--setup", "emacs");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("emacs", result.Error, StringComparison.Ordinal);
        foreach (var client in new[] { "claude-code", "claude", "cursor", "opencode", "vscode" })
        {
            Assert.Contains(client, result.Error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_wildcard_listen_address_becomes_loopback_in_the_url()
    {
        await using var harness = await CliHarness.CreateAsync(TestHome.DefaultConfig.Replace("\"127.0.0.1:0\"", "\"0.0.0.0:9123\"", StringComparison.Ordinal));

        var result = await harness.RunAsync("mcp", "--setup", "vscode");

        Assert.True(result.ExitCode == 0, result.Error);
        var entry = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(harness.WorkingDirectory, ".vscode", "mcp.json")))!["servers"]!["oubliette"]!;
        Assert.Equal("http://127.0.0.1:9123/mcp", (string?)entry["url"]);
    }

    [Fact]
    public async Task Port_zero_without_a_running_server_is_refused_with_the_way_out()
    {
        await using var harness = await CliHarness.CreateAsync(TestHome.DefaultConfig);

        var result = await harness.RunAsync("mcp", "--setup", "vscode");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("port 0", result.Error, StringComparison.Ordinal);
        Assert.Contains("oubliette --daemon", result.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(harness.WorkingDirectory));
    }
}
