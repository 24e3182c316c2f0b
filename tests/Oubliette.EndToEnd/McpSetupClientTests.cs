using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>
/// <c>oubliette mcp --setup</c> checked by the clients themselves on the host: OpenCode (the pinned npm
/// <c>opencode-linux-x64</c>) and Claude Code (the pinned npm <c>@anthropic-ai/claude-code</c>), both installed by
/// <c>scripts/install-conformance.sh</c>, read the file setup wrote and report the server connected (which needs the
/// URL and the token to be right). Each client runs with a home of its own, so the machine's configs are never read.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed partial class McpSetupClientTests(DockerEnvironment docker) : IAsyncLifetime
{
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(120);
    private readonly string _scratch = Directory.CreateTempSubdirectory("oubliette-mcp-setup-").FullName;
    private ServerProcess _server = null!;

    private string Project => Directory.CreateDirectory(Path.Combine(_scratch, "project")).FullName;
    private string ClientHome => Directory.CreateDirectory(Path.Combine(_scratch, "client-home")).FullName;

    // The server listens on a free port: setup must take the address from the running server, not from the config.
    public async Task InitializeAsync() => _server = await ServerProcess.StartAsync(docker, TestHome.DefaultConfig);

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_scratch, recursive: true);
    }

    [Fact]
    public async Task OpenCode_reads_the_written_opencode_json_and_reports_the_server_connected()
    {
        var setup = await SetupAsync("opencode");

        var (exitCode, output) = await RunClientAsync(NodeBinary("opencode-linux-x64", "bin", "opencode"), ["mcp", "list"], OpenCodeEnvironment());

        Assert.True(setup.ExitCode == 0, setup.Error);
        var line = OublietteLine(output);
        Assert.True(exitCode == 0, output);
        Assert.Matches("(?i)connected", line);
        Assert.DoesNotMatch("(?i)failed|disconnected|error|needs", line);
    }

    [Fact]
    public async Task OpenCode_refuses_the_old_token_after_a_rerun_and_accepts_the_new_one()
    {
        await SetupAsync("opencode");
        var oldConfig = await File.ReadAllTextAsync(Path.Combine(Project, "opencode.json"));
        var rerun = await SetupAsync("opencode");
        var oldProject = Directory.CreateDirectory(Path.Combine(_scratch, "old")).FullName;
        await File.WriteAllTextAsync(Path.Combine(oldProject, "opencode.json"), oldConfig);

        var (_, current) = await RunClientAsync(NodeBinary("opencode-linux-x64", "bin", "opencode"), ["mcp", "list"], OpenCodeEnvironment());
        var (_, old) = await RunClientAsync(NodeBinary("opencode-linux-x64", "bin", "opencode"), ["mcp", "list"], OpenCodeEnvironment(), oldProject);

        Assert.Contains("revoked: tok_", rerun.Output, StringComparison.Ordinal);
        Assert.DoesNotMatch("(?i)failed|disconnected|error|needs", OublietteLine(current));
        Assert.Matches("(?i)failed|error|needs", OublietteLine(old));
    }

    [Fact]
    public async Task Claude_Code_reads_the_project_mcp_json_and_reports_the_server_connected()
    {
        var setup = await SetupAsync("claude-code");
        // What answering Claude Code's approval prompt for a project server records in its user config.
        await File.WriteAllTextAsync(Path.Combine(ClientHome, ".claude.json"), new JsonObject
        {
            ["projects"] = new JsonObject { [Project] = new JsonObject { ["enabledMcpjsonServers"] = new JsonArray("oubliette"), ["hasTrustDialogAccepted"] = true } },
        }.ToJsonString());

        var (exitCode, output) = await RunClientAsync(NodeBinary(".bin", "claude"), ["mcp", "list"], ClaudeEnvironment());

        Assert.True(setup.ExitCode == 0, setup.Error);
        Assert.True(exitCode == 0, output);
        Assert.Contains("Connected", OublietteLine(output), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Claude_Code_reads_the_user_config_written_by_user_setup_keeping_its_own_state()
    {
        await File.WriteAllTextAsync(Path.Combine(ClientHome, ".claude.json"), """{"numStartups":3,"projects":{"/x":{"allowedTools":[]}}}""");

        var setup = await SetupAsync("claude-code", "--user");
        var elsewhere = Directory.CreateDirectory(Path.Combine(_scratch, "elsewhere")).FullName;
        var (exitCode, output) = await RunClientAsync(NodeBinary(".bin", "claude"), ["mcp", "list"], ClaudeEnvironment(), elsewhere);

        Assert.True(setup.ExitCode == 0, setup.Error);
        Assert.Contains(Path.Combine(ClientHome, ".claude.json"), setup.Output, StringComparison.Ordinal);
        var written = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(ClientHome, ".claude.json")))!;
        Assert.Equal(3, (int?)written["numStartups"]);
        Assert.NotNull(written["projects"]!["/x"]);
        Assert.True(exitCode == 0, output);
        Assert.Contains("Connected", OublietteLine(output), StringComparison.Ordinal);
    }

    /// <summary><c>oubliette mcp --setup</c> in the project folder, with the client's home as HOME.</summary>
    private async Task<CommandResult> SetupAsync(string client, params string[] extra)
    {
        var result = await OublietteProcess.RunAsync(["mcp", "--setup", client, .. extra, "--dir", _server.Home.Root],
            environment: new Dictionary<string, string> { ["HOME"] = ClientHome, ["XDG_CONFIG_HOME"] = Path.Combine(ClientHome, ".config") },
            workingDirectory: Project);
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains($"url:     {new Uri(_server.Address, "/mcp")}", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("oub_", result.Output, StringComparison.Ordinal);
        return result;
    }

    private Dictionary<string, string> OpenCodeEnvironment() => new()
    {
        ["HOME"] = ClientHome,
        ["XDG_CONFIG_HOME"] = Path.Combine(ClientHome, ".config"),
        ["XDG_DATA_HOME"] = Path.Combine(ClientHome, "data"),
        ["XDG_CACHE_HOME"] = Path.Combine(ClientHome, "cache"),
        ["XDG_STATE_HOME"] = Path.Combine(ClientHome, "state"),
        ["OPENCODE_DISABLE_AUTOUPDATE"] = "1",
        ["OPENCODE_DISABLE_MODELS_FETCH"] = "1",
        ["NO_COLOR"] = "1",
    };

    private Dictionary<string, string> ClaudeEnvironment() => new()
    {
        ["HOME"] = ClientHome,
        ["XDG_CONFIG_HOME"] = Path.Combine(ClientHome, ".config"),
        ["DISABLE_AUTOUPDATER"] = "1",
        ["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1",
        ["NO_COLOR"] = "1",
    };

    /// <summary>The client's line about the server (what 'mcp list' prints for it), colour codes removed.</summary>
    private static string OublietteLine(string output) =>
        AnsiCodes().Replace(output, "").Split('\n').FirstOrDefault(line => line.Contains("oubliette", StringComparison.Ordinal))
        ?? throw new Xunit.Sdk.XunitException($"the client did not list the server 'oubliette':\n{output}");

    /// <summary>A binary of the conformance suite's locked npm packages; missing means scripts/install-conformance.sh has not run.</summary>
    private static string NodeBinary(params string[] parts)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Oubliette.slnx")))
        {
            directory = directory.Parent;
        }

        var path = Path.Combine([directory?.FullName ?? throw new InvalidOperationException("repository root not found"), "tests", "conformance", "node_modules", .. parts]);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is missing: run scripts/install-conformance.sh (test.sh does)");
    }

    private async Task<(int ExitCode, string Output)> RunClientAsync(string binary, string[] arguments, Dictionary<string, string> environment, string? workingDirectory = null)
    {
        var startInfo = new ProcessStartInfo(binary, arguments)
        {
            WorkingDirectory = workingDirectory ?? Project,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        // Only what the client needs: no provider keys or configs of the machine leak into it.
        startInfo.Environment.Clear();
        startInfo.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH");
        foreach (var (key, value) in environment)
        {
            startInfo.Environment[key] = value;
        }

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"could not start {binary}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(ClientTimeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{binary} {string.Join(' ', arguments)} did not exit within {ClientTimeout.TotalSeconds:0} s");
        }

        return (process.ExitCode, $"{await output}\n{await error}");
    }

    [GeneratedRegex(@"\u001b\[[0-9;?]*[A-Za-z]")]
    private static partial Regex AnsiCodes();
}
