using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using ModelContextProtocol.Client;
using Xunit.Abstractions;
using Oubliette.Projects;
using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>
/// Runs the conformance suite (<c>tests/conformance</c>, Node with the official TypeScript SDKs pinned in its lockfile,
/// the MCP Inspector CLI and OpenCode) against the real server executable with a scripted model: every tool and
/// action as real clients call them, both protocol eras, a dropped push stream, long calls kept alive by progress.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class ConformanceTests(DockerEnvironment docker, ITestOutputHelper output)
{
    /// <summary>The first user message the scripted model answers with a call to the lent caller tool.</summary>
    private const string CallerMarker = "CONFORMANCE-CALLER";

    private static readonly TimeSpan SuiteTimeout = TimeSpan.FromMinutes(6);

    [Fact]
    public async Task The_official_TypeScript_clients_accept_every_tool_result_and_both_protocol_eras()
    {
        var suite = SuiteDirectory();
        await using var model = await ScriptedModelServer.StartAsync();
        model.Conversation(CallerMarker,
            ScriptStep.CallTool("oubliette_conformance_lookup", new { key = "fruit" }),
            ScriptStep.Reply("the caller answered"));
        await using var server = await ServerProcess.StartAsync(docker, model);

        var project = await server.CreateProjectAsync("conformance-" + Guid.NewGuid().ToString("N")[..6]);
        var environment = new Dictionary<string, string>
        {
            ["OUBLIETTE_MCP_URL"] = new Uri(server.Address, "/mcp").ToString(),
            ["OUBLIETTE_TOKEN_ADMIN"] = server.Home.AdminSecret,
            ["OUBLIETTE_TOKEN_ADMIN_RO"] = await server.Home.CreateTokenAsync("admin:ro"),
            ["OUBLIETTE_TOKEN_PROJECT"] = await server.Home.CreateTokenAsync($"project:{project:D}"),
            ["OUBLIETTE_TOKEN_PROJECT_RO"] = await server.Home.CreateTokenAsync($"project:{project:D}:ro"),
            ["OUBLIETTE_PROJECT_ID"] = project.ToString("D"),
            ["OUBLIETTE_CALLER_MARKER"] = CallerMarker,
        };

        var (exitCode, lines) = await RunSuiteAsync(suite, environment);

        Assert.True(exitCode == 0,
            $"the conformance suite failed (exit {exitCode}):\n{string.Join('\n', Failures(lines))}\n--- server log\n{server.LogTail()}");
    }

    /// <summary>Each failed check's line with the lines that explain it (indented under it), then the summary.</summary>
    private static IEnumerable<string> Failures(List<string> lines)
    {
        var inFailure = false;
        foreach (var line in lines)
        {
            inFailure = line.StartsWith("FAIL", StringComparison.Ordinal) || (inFailure && line.StartsWith("      ", StringComparison.Ordinal));
            if (inFailure || line.Contains(" checks, ", StringComparison.Ordinal))
            {
                yield return line;
            }
        }
    }

    /// <summary>Runs <c>node run.mjs</c>, streaming every line into the test log; a missing Node is a failure.</summary>
    private async Task<(int ExitCode, List<string> Lines)> RunSuiteAsync(string suite, Dictionary<string, string> environment)
    {
        var startInfo = new ProcessStartInfo("node", ["run.mjs"])
        {
            WorkingDirectory = suite,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var (key, value) in environment)
        {
            startInfo.Environment[key] = value;
        }

        Process process;
        try
        {
            process = Process.Start(startInfo) ?? throw new InvalidOperationException("node did not start");
        }
        catch (Win32Exception exception)
        {
            throw new InvalidOperationException("the conformance suite needs Node.js 20+ ('node' on PATH; scripts/install-prerequisites.sh installs it): " + exception.Message, exception);
        }

        using (process)
        {
            var lines = new ConcurrentQueue<string>();
            void Forward(object? sender, DataReceivedEventArgs line)
            {
                if (line.Data is { } text)
                {
                    lines.Enqueue(text);
                    output.WriteLine(text);
                }
            }

            process.OutputDataReceived += Forward;
            process.ErrorDataReceived += Forward;
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            using var deadline = new CancellationTokenSource(SuiteTimeout);
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                Assert.Fail($"the conformance suite did not finish within {SuiteTimeout.TotalMinutes} minutes:\n{string.Join('\n', lines)}");
            }

            // WaitForExitAsync returns after the redirected streams reached their end, so every line is in.
            return (process.ExitCode, [.. lines]);
        }
    }

    /// <summary>tests/conformance of this checkout, with its locked dependencies installed (npm ci).</summary>
    private static string SuiteDirectory()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Oubliette.slnx")))
        {
            directory = directory.Parent;
        }

        var suite = directory is null ? null : Path.Combine(directory.FullName, "tests", "conformance");
        if (suite is null || !File.Exists(Path.Combine(suite, "run.mjs")))
        {
            throw new InvalidOperationException($"tests/conformance not found above {AppContext.BaseDirectory}");
        }

        if (!Directory.Exists(Path.Combine(suite, "node_modules", "@modelcontextprotocol", "sdk")))
        {
            throw new InvalidOperationException($"the conformance suite's dependencies are not installed: run 'npm ci' in {suite} (scripts/install-prerequisites.sh does)");
        }

        return suite;
    }

    /// <summary>The real executable in a process of its own, on a test home whose only model is the scripted one.</summary>
    private sealed class ServerProcess : IAsyncDisposable
    {
        private readonly DockerEnvironment _docker;
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _log;

        private ServerProcess(DockerEnvironment docker, TestHome home, Process process, ConcurrentQueue<string> log, Uri address, McpClient admin)
        {
            _docker = docker;
            Home = home;
            _process = process;
            _log = log;
            Address = address;
            Admin = admin;
        }

        public TestHome Home { get; }
        public Uri Address { get; }
        public McpClient Admin { get; }

        public static async Task<ServerProcess> StartAsync(DockerEnvironment docker, ScriptedModelServer model)
        {
            // The suite runs its groups at once: more live sessions than the default ten in one project.
            var home = await TestHome.CreateAsync(SessionFixture.Config(model.BaseUrl, """ "limits": { "max_active_sessions_per_project": 50 } """));
            var process = OublietteProcess.Start(["--dir", home.Root]);
            var log = new ConcurrentQueue<string>();
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
            return new ServerProcess(docker, home, process, log, address, admin);
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

        public async Task<Guid> CreateProjectAsync(string name)
        {
            var outcome = await Admin.CallAsync("project", new { action = "create", name, container_type = "base" });
            Assert.False(outcome.IsError, outcome.Text);
            return outcome.Json.GetProperty("project").GetProperty("id").GetGuid();
        }

        public async ValueTask DisposeAsync()
        {
            // The suite makes projects of its own: remove every project's container, whoever made it.
            var listed = await Admin.CallAsync("project", new { action = "list", limit = 1000 });
            var projects = listed.IsError ? [] : listed.Json.GetProperty("projects").EnumerateArray().Select(item => item.GetProperty("id").GetGuid()).ToList();
            foreach (var project in projects)
            {
                await Admin.CallAsync("project", new { action = "delete", project_id = project.ToString("D"), force = true });
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
        }
    }
}
