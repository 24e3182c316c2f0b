using System.Text.Json;
using System.Text.RegularExpressions;
using ModelContextProtocol.Client;
using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>The runbook's commands, with agent containers running beside the server.</summary>
[Collection(DockerCollection.Name)]
public sealed partial class RunbookTests(DockerEnvironment docker)
{
    private static readonly Uri Mcp = new("http://localhost:8080/mcp");
    private static readonly TimeSpan Install = TimeSpan.FromMinutes(8);

    /// <summary>
    /// ../shared/RUNBOOK.md, command by command as written, on a home set up by <c>./run.sh</c> itself (which installs
    /// into a temp prefix on a temp PATH and records the home in a temp file), each command in a shell that never saw
    /// <c>OUBLIETTE_HOME</c>, in a folder that is not the home unless the runbook's relative paths need it. The server
    /// listens on the runbook's <c>localhost:8080</c>; the model is the scripted one, configured by <c>oubliette init</c>
    /// from <c>OUBLIETTE_MODEL_BASE_URL</c> as a first run does.
    /// </summary>
    [Fact]
    public async Task Every_runbook_command_works_as_written_and_keeps_its_promise()
    {
        _ = docker;
        await using var model = await ScriptedModelServer.StartAsync();
        var scratch = Directory.CreateTempSubdirectory("oubliette-runbook-").FullName;
        var home = Path.Combine(scratch, "home");
        var elsewhere = Directory.CreateDirectory(Path.Combine(scratch, "elsewhere")).FullName;
        var clientProject = Directory.CreateDirectory(Path.Combine(scratch, "client-project")).FullName;
        var repository = RepositoryRoot();
        await using var shell = RunbookShell.Start(ShellEnvironment(scratch), scratch);
        var projectId = "";
        try
        {
            var portProbe = await shell.RunAsync("curl -s -o /dev/null http://localhost:8080/", elsewhere);
            Assert.True(portProbe.ExitCode != 0, "something already answers on localhost:8080; the runbook test needs the runbook's port");

            // Set-up as the README says, with the home named once.
            var setUp = await shell.RunResultOkAsync($"OUBLIETTE_HOME={home} OUBLIETTE_MODEL_BASE_URL={model.BaseUrl} OUBLIETTE_MODEL=scripted-model ./run.sh --daemon", repository, Install);
            Assert.Contains($"oubliette home: {home}", setUp.Error, StringComparison.Ordinal);
            var version = (await shell.RunOkAsync("oubliette --version", elsewhere)).Trim();
            Assert.Matches(@"^\d+\.\d+\.\d+\+[0-9a-f]{7,40}$", version);

            // Health checks.
            using (var health = JsonDocument.Parse(await shell.RunOkAsync("curl http://localhost:8080/health", elsewhere)))
            {
                Assert.Equal("ok", health.RootElement.GetProperty("status").GetString());
                Assert.Equal(version, health.RootElement.GetProperty("version").GetString());
            }

            using (var ready = JsonDocument.Parse(await shell.RunOkAsync("curl http://localhost:8080/ready", elsewhere)))
            {
                Assert.Equal("ready", ready.RootElement.GetProperty("status").GetString());
            }

            // Common commands, from a new shell in another folder: the recorded home is found.
            var created = await shell.RunOkAsync("oubliette token create --name ops --scope admin", elsewhere);
            var opsId = TokenId().Match(created).Value;
            var opsSecret = TokenSecret().Match(created).Value;
            Assert.False(string.IsNullOrEmpty(opsId) || string.IsNullOrEmpty(opsSecret), created);
            var revokedSecret = TokenSecret().Match(await shell.RunOkAsync("oubliette token create --name soon-revoked --scope admin", elsewhere)).Value;
            var list = await shell.RunOkAsync("oubliette token list", elsewhere);
            Assert.Contains(opsId, list, StringComparison.Ordinal);
            Assert.Contains("soon-revoked", list, StringComparison.Ordinal);
            Assert.DoesNotContain(opsSecret, list, StringComparison.Ordinal);
            var status = await shell.RunOkAsync("oubliette status", elsewhere);
            Assert.Contains(version, status, StringComparison.Ordinal);
            Assert.Contains(home, status, StringComparison.Ordinal);

            // A project with a session on the first-run model.
            await using (var ops = await McpTestClient.ConnectAsync(Mcp, opsSecret))
            {
                projectId = await CreateProjectAsync(ops);
                model.Enqueue(ScriptStep.Reply("runbook says hello"));
                var session = await CallOkAsync(ops, "session", new { action = "spawn", project_id = projectId, prompt = "Say hello" });
                var sessionId = session.GetProperty("session_id").GetString()!;
                var waited = await CallOkAsync(ops, "session", new { action = "wait", session_id = sessionId, until = "idle", timeout_seconds = 120 });
                Assert.True(waited.GetProperty("reached").GetBoolean(), waited.ToString());
                var metrics = await shell.RunOkAsync("curl http://localhost:8080/metrics", elsewhere);
                foreach (var metric in new[] { "oubliette_requests_total", "oubliette_request_duration_seconds", "oubliette_active_sessions" })
                {
                    Assert.Contains(metric, metrics, StringComparison.Ordinal);
                }

                Assert.Contains($"oubliette_active_sessions{{project_id=\"{projectId}\"}} 1", metrics, StringComparison.Ordinal);
                await CallOkAsync(ops, "session", new { action = "end", session_id = sessionId });
                await CallOkAsync(ops, "schedule", new
                {
                    action = "create", name = "runbook-nightly", cron_expr = "0 3 * * *", prompt = "nightly", targets = new[] { new { project_id = projectId } },
                });
            }

            // Sessions failing: the container runs and its log is the agent's.
            Assert.Contains($"oubliette-{projectId}", await shell.RunOkAsync("docker ps | grep oubliette", elsewhere), StringComparison.Ordinal);
            var containerLog = await shell.RunResultOkAsync($"docker logs oubliette-{projectId}", elsewhere);
            Assert.Contains("level=INFO", containerLog.Output + containerLog.Error, StringComparison.Ordinal);

            // Auth token issues: mcp --setup writes a token the running server accepts at once.
            var setup = await shell.RunOkAsync("oubliette mcp --setup claude-code", clientProject);
            var setupSecret = McpJsonSecret(Path.Combine(clientProject, ".mcp.json"));
            await using (var client = await McpTestClient.ConnectAsync(Mcp, setupSecret))
            {
                Assert.NotEmpty(await client.ListToolsAsync());
            }

            Assert.Contains("claude", setup, StringComparison.OrdinalIgnoreCase);
            await shell.RunOkAsync($"oubliette token revoke {TokenIdOf(list, "soon-revoked")}", elsewhere);

            // Database maintenance while the server runs; the copies hold every acknowledged change (the revoke above).
            await shell.RunOkAsync("cp data/auth.db data/auth.db.backup", home);
            await shell.RunOkAsync("sqlite3 data/auth.db \"VACUUM;\"", home);
            await shell.RunOkAsync("cp data/schedules.db data/schedules.db.backup", home);
            await shell.RunOkAsync("sqlite3 data/schedules.db \"VACUUM;\"", home);

            // Cleanup with short intervals for the restart below (the ended session goes one retention later).
            var configPath = Path.Combine(home, "config", "oubliette.jsonc");
            var config = await File.ReadAllTextAsync(configPath);
            var shortCleanup = CleanupInterval().Replace(CleanupRetention().Replace(config, "\"retention_minutes\": 1"), "\"interval_minutes\": 1");
            Assert.NotEqual(config, shortCleanup);
            await File.WriteAllTextAsync(configPath, shortCleanup);

            // Graceful shutdown, as written; the log says what it closed.
            await shell.RunOkAsync("kill -TERM $(pgrep -f oubliette)", elsewhere);
            await WaitUntilStoppedAsync(shell, elsewhere);
            var log = await ServerLogAsync(home);
            Assert.Contains("shutdown: 1 sessions persisted", log, StringComparison.Ordinal);
            Assert.Contains("project containers left running", log, StringComparison.Ordinal);
            Assert.Contains("shutdown: databases closed", log, StringComparison.Ordinal);
            var stopped = await shell.RunAsync("oubliette status", elsewhere);
            Assert.True(stopped.ExitCode == 1 && stopped.Output.Contains("not running", StringComparison.Ordinal), $"{stopped}");

            // Put the copies back as the README says, then restart ("restart server after mcp --setup").
            await shell.RunOkAsync("cp data/auth.db.backup data/auth.db && rm -f data/auth.db-wal data/auth.db-shm", home);
            await shell.RunOkAsync("cp data/schedules.db.backup data/schedules.db && rm -f data/schedules.db-wal data/schedules.db-shm", home);
            await shell.RunOkAsync("oubliette --daemon", elsewhere, TimeSpan.FromMinutes(2));
            var restored = await shell.RunOkAsync("oubliette token list", elsewhere);
            Assert.Contains(opsId, restored, StringComparison.Ordinal);
            Assert.DoesNotContain("soon-revoked", restored, StringComparison.Ordinal);
            await using (var afterRestart = await McpTestClient.ConnectAsync(Mcp, setupSecret))
            {
                var schedules = await CallOkAsync(afterRestart, "schedule", new { action = "list" });
                Assert.Contains("runbook-nightly", schedules.ToString(), StringComparison.Ordinal);
                var sessions = await CallOkAsync(afterRestart, "session", new { action = "list", project_id = projectId });
                Assert.Single(sessions.GetProperty("sessions").EnumerateArray());
            }

            using (var http = new HttpClient())
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, Mcp) { Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json") };
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", revokedSecret);
                using var response = await http.SendAsync(request);
                Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
            }

            // "Cleanup runs automatically": the ended session is gone after a pass, and the pass says so.
            await using (var ops = await McpTestClient.ConnectAsync(Mcp, opsSecret))
            {
                var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
                while (!(await ServerLogAsync(home)).Contains("cleanup pass removed sessions=1", StringComparison.Ordinal))
                {
                    Assert.True(DateTime.UtcNow < deadline, $"no cleanup pass removed the ended session:\n{await ServerLogAsync(home)}");
                    await Task.Delay(TimeSpan.FromSeconds(2));
                }

                var sessions = await CallOkAsync(ops, "session", new { action = "list", project_id = projectId });
                Assert.Empty(sessions.GetProperty("sessions").EnumerateArray());
            }

            // Version upgrade, as written, with ./scripts/install.sh as the "replace binary" step.
            await shell.RunOkAsync("kill -TERM $(pgrep -f oubliette)", home);
            await WaitUntilStoppedAsync(shell, elsewhere);
            await shell.RunOkAsync("cp -r data data.backup.$(date +%Y%m%d)", home);
            Assert.True(File.Exists(Path.Combine(home, $"data.backup.{DateTime.Now:yyyyMMdd}", "auth.db")));
            await shell.RunOkAsync("./scripts/install.sh", repository, Install);
            await shell.RunOkAsync("oubliette --daemon", home, TimeSpan.FromMinutes(2));
            using (var upgraded = JsonDocument.Parse(await shell.RunOkAsync("curl http://localhost:8080/health", home)))
            {
                Assert.Equal(version, upgraded.RootElement.GetProperty("version").GetString());
            }

            Assert.Contains($"oubliette {version} started: home {home}", await ServerLogAsync(home), StringComparison.Ordinal);

            // "oubliette: start server" in the foreground, ended by SIGTERM with exit code 0.
            await shell.RunOkAsync("oubliette stop", elsewhere);
            await WaitUntilStoppedAsync(shell, elsewhere);
            var foreground = await shell.RunOkAsync(
                "oubliette & for i in $(seq 1 300); do curl -sf http://localhost:8080/health >/dev/null && break; sleep 0.2; done; "
                + "curl -s http://localhost:8080/health; kill -TERM %1; wait %1; echo \"exit=$?\"",
                elsewhere, TimeSpan.FromMinutes(2));
            Assert.True(foreground.Contains("\"status\":\"ok\"", StringComparison.Ordinal) && foreground.Contains("exit=0", StringComparison.Ordinal), foreground);
        }
        catch (Exception exception) when (exception is not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException($"{exception.Message}\n--- transcript\n{shell.Transcript}", exception);
        }
        finally
        {
            await shell.RunAsync("oubliette stop", elsewhere);
            if (projectId.Length > 0)
            {
                await shell.RunAsync($"docker rm -f oubliette-{projectId}", elsewhere);
            }
        }
    }

    [Fact]
    public async Task Pgrep_oubliette_never_matches_a_process_inside_an_agent_container()
    {
        await using var fixture = await SessionFixture.StartAsync(docker);
        fixture.Model.Enqueue(ScriptStep.Reply("up"));
        var sessionId = await fixture.SpawnAsync("Start the agent");
        await fixture.WaitAsync(sessionId);

        var startInfo = new System.Diagnostics.ProcessStartInfo("pgrep", ["-f", "oubliette"]) { RedirectStandardOutput = true };
        using var pgrep = System.Diagnostics.Process.Start(startInfo)!;
        var pids = (await pgrep.StandardOutput.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        await pgrep.WaitForExitAsync();
        var inContainers = new List<string>();
        foreach (var pid in pids)
        {
            var cgroup = $"/proc/{pid}/cgroup";
            if (File.Exists(cgroup) && (await File.ReadAllTextAsync(cgroup)).Contains("docker", StringComparison.Ordinal))
            {
                inContainers.Add($"{pid}: {(await File.ReadAllTextAsync($"/proc/{pid}/cmdline")).Replace('\0', ' ')}");
            }
        }

        var agentProcesses = await fixture.Admin.CallAsync("container", new { action = "exec", project_id = fixture.ProjectId.ToString("D"), command = "ps -eo args" });
        Assert.Contains("opencode serve", agentProcesses.Text, StringComparison.Ordinal);
        Assert.Contains("socat", agentProcesses.Text, StringComparison.Ordinal);
        Assert.Empty(inContainers);
    }

    private static async Task<string> CreateProjectAsync(McpClient client)
    {
        var project = await CallOkAsync(client, "project", new { action = "create", name = "runbook-" + Guid.NewGuid().ToString("N")[..6], container_type = "base" });
        return project.GetProperty("project").GetProperty("id").GetString()!;
    }

    private static async Task<JsonElement> CallOkAsync(McpClient client, string tool, object arguments)
    {
        var outcome = await client.CallAsync(tool, arguments);
        Assert.False(outcome.IsError, $"{tool} {JsonSerializer.Serialize(arguments)}: {outcome.Text}");
        return outcome.Json;
    }

    private static async Task WaitUntilStoppedAsync(RunbookShell shell, string directory)
    {
        for (var attempt = 0; attempt < 300; attempt++)
        {
            if ((await shell.RunAsync("pgrep -f oubliette", directory)).ExitCode == 1)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }

        Assert.Fail($"the server did not exit within a minute of SIGTERM\n{shell.Transcript}");
    }

    private static async Task<string> ServerLogAsync(string home)
    {
        var files = Directory.GetFiles(Path.Combine(home, "data", "logs"), "oubliette-*.log").Order();
        var text = new System.Text.StringBuilder();
        foreach (var file in files)
        {
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            text.Append(await reader.ReadToEndAsync());
        }

        return text.ToString();
    }

    private static string McpJsonSecret(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var authorization = document.RootElement.GetProperty("mcpServers").GetProperty("oubliette").GetProperty("headers").GetProperty("Authorization").GetString()!;
        Assert.Equal("http://localhost:8080/mcp", document.RootElement.GetProperty("mcpServers").GetProperty("oubliette").GetProperty("url").GetString()?.Replace("127.0.0.1", "localhost", StringComparison.Ordinal));
        return authorization["Bearer ".Length..];
    }

    private static string TokenIdOf(string list, string name) =>
        list.Split('\n').Single(line => line.Contains(name, StringComparison.Ordinal)) is var line ? TokenId().Match(line).Value : "";

    /// <summary>The shell's whole environment: the runner's, minus anything Oubliette- or MSBuild-specific, plus a temp install.</summary>
    private static Dictionary<string, string> ShellEnvironment(string scratch)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            var name = (string)entry.Key;
            if (!name.StartsWith("OUBLIETTE_", StringComparison.OrdinalIgnoreCase) && !name.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)
                && !name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase) && !name.StartsWith("TESTINGPLATFORM", StringComparison.OrdinalIgnoreCase))
            {
                environment[name] = (string)entry.Value!;
            }
        }

        var bin = Directory.CreateDirectory(Path.Combine(scratch, "bin")).FullName;
        environment["PATH"] = $"{bin}:{environment.GetValueOrDefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")}";
        environment["OUBLIETTE_PREFIX"] = Path.Combine(scratch, "opt");
        environment["OUBLIETTE_BINDIR"] = bin;
        environment["OUBLIETTE_HOME_RECORD"] = Path.Combine(scratch, "etc", "home");
        return environment;
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Oubliette.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException($"no Oubliette.slnx above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"tok_[0-9a-zA-Z]+")]
    private static partial Regex TokenId();

    [GeneratedRegex(@"oub_[0-9a-zA-Z_-]+")]
    private static partial Regex TokenSecret();

    [GeneratedRegex(@"""interval_minutes""\s*:\s*\d+")]
    private static partial Regex CleanupInterval();

    [GeneratedRegex(@"""retention_minutes""\s*:\s*\d+")]
    private static partial Regex CleanupRetention();
}
