using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;
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
        // The suite runs its groups at once: more live sessions than the default ten in one project.
        await using var server = await ServerProcess.StartAsync(docker, SessionFixture.Config(model.BaseUrl, """ "limits": { "max_active_sessions_per_project": 50 } """));

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
}
