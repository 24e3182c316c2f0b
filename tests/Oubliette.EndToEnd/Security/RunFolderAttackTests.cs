using System.Diagnostics;
using System.Text.Json;
using Oubliette.Containers;
using Oubliette.Projects;
using Oubliette.Testing;

namespace Oubliette.EndToEnd.Security;

/// <summary>
/// A hostile agent (a shell as <c>gogol</c> in its container) against the host folders it can see: links planted in its
/// run folder, attempts on the agent config and socket folders, and a redirect of the server's connection to another
/// project's agent. Nothing on the host and nothing of another project may change; the agent keeps working.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class RunFolderAttackTests(DockerEnvironment docker) : IAsyncLifetime
{
    /// <summary>About "not forever": a loaded machine can take seconds to start a process in a container.</summary>
    private static readonly TimeSpan ExecTimeout = TimeSpan.FromSeconds(60);
    private SessionFixture _fixture = null!;
    private readonly string _victims = Directory.CreateTempSubdirectory("oubliette-victims-").FullName;

    public async Task InitializeAsync() => _fixture = await SessionFixture.StartAsync(docker);

    public async Task DisposeAsync()
    {
        await _fixture.DisposeAsync();
        Directory.Delete(_victims, recursive: true);
    }

    [Fact]
    public async Task Links_planted_in_the_run_folder_are_never_written_through_nor_chowned_through_at_the_next_agent_start()
    {
        var file = Path.Combine(_victims, "host-file");
        await File.WriteAllTextAsync(file, "host content\n");
        File.SetUnixFileMode(file, (UnixFileMode)Convert.ToInt32("644", 8));
        var script = Path.Combine(_victims, "host-script");
        await File.WriteAllTextAsync(script, "#!/bin/sh\necho host\n");
        var directory = Path.Combine(_victims, "host-dir");
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "inside"), "inside\n");
        var before = Snapshot(file, script, directory, Path.Combine(directory, "inside"));

        var planted = await AsAgentAsync(_fixture.ProjectId,
            $"ln -sfn {file} /run/agent/opencode.json && ln -sfn {script} /run/agent/start-agent.sh && ln -sfn {file} /run/agent/agent.sock"
            + $" && ln -sfn {directory} /run/agent/host-dir && ls -l /run/agent");
        Assert.True(planted.ExitCode == 0, planted.Stderr);
        // A restart, then a session: the agent is started afresh with the links in place.
        var restarted = await _fixture.Admin.CallAsync("container", new { action = "restart", project_id = _fixture.ProjectId.ToString("D") });
        Assert.False(restarted.IsError, restarted.Text);
        _fixture.Model.Enqueue(ScriptStep.Reply("still working"));
        var sessionId = await _fixture.SpawnAsync("Hello after the links");
        await _fixture.WaitAsync(sessionId);

        Assert.Equal(before, Snapshot(file, script, directory, Path.Combine(directory, "inside")));
        Assert.Equal("still working", Completion(await _fixture.EventsAsync(sessionId)));
        var project = _fixture.Server.ProjectDirectory(_fixture.ProjectId);
        Assert.Equal("0:1000 640 regular", Describe(Path.Combine(project, "agent-config", "opencode.json")));
        Assert.Equal("0:0 644 regular", Describe(Path.Combine(project, "agent-config", "start-agent.sh")));
        Assert.Equal("0:0 755 directory", Describe(Path.Combine(project, "agent-config")));
        Assert.Equal("0:0 755 directory", Describe(Path.Combine(project, "agent-socket")));
        Assert.Equal("0:0 600 socket", Describe(Path.Combine(project, "agent-socket", "agent.sock")));
        // The links are the agent's own business: still there, still links.
        Assert.Equal(file, new FileInfo(Path.Combine(project, "run", "opencode.json")).LinkTarget);

        // Deleting the project removes the links, not what they name.
        var deleted = await _fixture.Admin.CallAsync("project", new { action = "delete", project_id = _fixture.ProjectId.ToString("D"), force = true });
        Assert.False(deleted.IsError, deleted.Text);
        Assert.False(Directory.Exists(project));
        Assert.Equal(before, Snapshot(file, script, directory, Path.Combine(directory, "inside")));
    }

    [Fact]
    public async Task The_agent_user_can_neither_change_the_agent_config_and_socket_nor_kill_the_relay()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("first"));
        await _fixture.WaitAsync(await _fixture.SpawnAsync("Start the agent"));
        var project = _fixture.Server.ProjectDirectory(_fixture.ProjectId);
        var files = new[]
        {
            Path.Combine(project, "agent-config", "opencode.json"),
            Path.Combine(project, "agent-config", "start-agent.sh"),
            Path.Combine(project, "agent-config"),
            Path.Combine(project, "agent-socket", "agent.sock"),
            Path.Combine(project, "agent-socket"),
        };
        var before = Snapshot(files);
        var relays = await RelayPidsAsync(_fixture.ProjectId);
        Assert.NotEmpty(relays);

        string[] attempts =
        [
            "echo '{}' > /run/agent-config/opencode.json",
            "echo 'echo pwned' >> /run/agent-config/start-agent.sh",
            "rm -f /run/agent-config/opencode.json",
            "mv /run/agent-config/start-agent.sh /run/agent-config/old.sh",
            "ln -sfn /run/agent/evil.json /run/agent-config/opencode.json",
            "touch /run/agent-config/new-file",
            "chmod 666 /run/agent-config/opencode.json",
            "rm -f /run/agent-socket/agent.sock",
            "mv /run/agent-socket/agent.sock /run/agent-socket/old.sock",
            "ln -sfn /run/agent/evil.sock /run/agent-socket/agent.sock",
            "touch /run/agent-socket/new-file",
            "socat UNIX-LISTEN:/run/agent-socket/evil.sock,fork STDOUT </dev/null & sleep 1; test -S /run/agent-socket/evil.sock",
            "mount -o remount,rw /run/agent-config",
            $"kill -TERM {string.Join(' ', relays)}",
            $"kill -KILL {string.Join(' ', relays)}",
        ];
        foreach (var attempt in attempts)
        {
            var result = await AsAgentAsync(_fixture.ProjectId, attempt);
            Assert.True(result.ExitCode != 0, $"'{attempt}' succeeded as the agent user: {result.Stdout} {result.Stderr}");
        }

        Assert.Equal(before, Snapshot(files));
        Assert.Equal(["agent.sock"], Directory.GetFileSystemEntries(Path.Combine(project, "agent-socket")).Select(Path.GetFileName));
        Assert.Equal(relays, await RelayPidsAsync(_fixture.ProjectId));
        _fixture.Model.Enqueue(ScriptStep.Reply("second"));
        var sessionId = await _fixture.SpawnAsync("Still there?");
        await _fixture.WaitAsync(sessionId);
        Assert.Equal("second", Completion(await _fixture.EventsAsync(sessionId)));
    }

    [Fact]
    public async Task A_redirect_of_the_agent_socket_to_another_project_fails_and_the_next_session_runs_in_its_own_project()
    {
        var (other, _) = await _fixture.Server.CreateProjectAsync("victim-" + Guid.NewGuid().ToString("N")[..6]);
        _fixture.Model.Enqueue(ScriptStep.Reply("x1 up"), ScriptStep.Reply("x2 up"));
        await _fixture.WaitAsync(await _fixture.SpawnAsync("Start X1"));
        var x2Session = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = other.ToString("D"), prompt = "Start X2" });
        Assert.False(x2Session.IsError, x2Session.Text);
        await _fixture.WaitAsync(x2Session.Json.GetProperty("session_id").GetString()!);
        var x2Socket = Path.Combine(_fixture.Server.ProjectDirectory(other), "agent-socket", "agent.sock");
        var ownSocket = Path.Combine(_fixture.Server.ProjectDirectory(_fixture.ProjectId), "agent-socket", "agent.sock");
        var ownBefore = Snapshot(ownSocket);

        // Kill everything the agent user may kill (OpenCode, its gateway relay), then point every name the server could
        // dial at X2's socket.
        await AsAgentAsync(_fixture.ProjectId, "pkill -x opencode; pkill -x socat; exit 0");
        // The kill is a SIGTERM: OpenCode may still take a prompt while it shuts down, and that turn then dies with it. So
        // the test goes on once OpenCode is gone (instead of after a fixed 5 s); that the server has seen it go, the next
        // spawn waits for itself.
        var gone = Stopwatch.StartNew();
        while ((await AsAgentAsync(_fixture.ProjectId, "pgrep -x opencode")).ExitCode == 0)
        {
            Assert.True(gone.Elapsed < TimeSpan.FromSeconds(30), "OpenCode still runs 30 s after its SIGTERM");
            await Task.Delay(200);
        }

        var replaced = await AsAgentAsync(_fixture.ProjectId, $"ln -sfn {x2Socket} /run/agent-socket/agent.sock");
        var removed = await AsAgentAsync(_fixture.ProjectId, "rm -f /run/agent-socket/agent.sock");
        var linkedInRun = await AsAgentAsync(_fixture.ProjectId, $"ln -sfn {x2Socket} /run/agent/agent.sock");
        Assert.NotEqual(0, replaced.ExitCode);
        Assert.NotEqual(0, removed.ExitCode);
        Assert.Equal(0, linkedInRun.ExitCode);
        Assert.Equal(ownBefore, Snapshot(ownSocket));

        // A new session (not the idle X1 one resumed): the question is where the next agent runs, and its first turn says.
        _fixture.Model.Enqueue(ScriptStep.Reply("x1 again"));
        var spawned = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt = "Where do I run?", new_session = true });
        Assert.False(spawned.IsError, spawned.Text);
        var sessionId = spawned.Json.GetProperty("session_id").GetString()!;
        await _fixture.WaitAsync(sessionId);
        var agentSessionId = await AgentSessionIdAsync(sessionId);

        var completion = Completion(await _fixture.EventsAsync(sessionId));
        Assert.True(completion == "x1 again", $"the turn ended with '{completion}'\n{_fixture.Diagnostics()}");
        Assert.Equal(0, (await AsAgentAsync(_fixture.ProjectId, $"grep -rlq {agentSessionId} /home/gogol/.local/share/opencode")).ExitCode);
        Assert.NotEqual(0, (await AsAgentAsync(other, $"grep -rlq {agentSessionId} /home/gogol/.local/share/opencode")).ExitCode);
    }

    private async Task<string> AgentSessionIdAsync(string sessionId)
    {
        var file = Path.Combine(_fixture.Server.ProjectDirectory(_fixture.ProjectId), "sessions", sessionId + ".json");
        using var metadata = JsonDocument.Parse(await File.ReadAllTextAsync(file));
        return metadata.RootElement.GetProperty("agent_session_id").GetString()!;
    }

    /// <summary>
    /// A command as the agent user. A timed-out attempt would have a non-zero exit code without having been refused: it
    /// fails the test instead of passing for a refusal.
    /// </summary>
    private async Task<ExecResult> AsAgentAsync(Guid project, string command)
    {
        var result = await docker.Runtime.ExecAsync(ProjectContainers.NameOf(project), new ExecRequest(command, "gogol", "/", ExecTimeout), CancellationToken.None);
        Assert.False(result.TimedOut, $"'{command}' timed out");
        return result;
    }

    private async Task<IReadOnlyList<string>> RelayPidsAsync(Guid project)
    {
        var found = await docker.Runtime.ExecAsync(ProjectContainers.NameOf(project),
            // The long-lived ones only: socat forks a child per connection, which comes and goes with it.
            new ExecRequest(
                "for p in $(pgrep -U 0 -f 'UNIX-LISTE[N]:/run/agent-socket/agent.sock'); do "
                + "parent=$(cut -d' ' -f4 /proc/$p/stat 2>/dev/null) || continue; "
                + "[ \"$(cat /proc/$parent/comm 2>/dev/null)\" = socat ] || echo $p; done",
                "root", "/", ExecTimeout), CancellationToken.None);
        Assert.False(found.TimedOut, "listing the relays timed out");
        return [.. found.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal)];
    }

    /// <summary>The text of the session's last completion.</summary>
    private static string Completion(List<JsonElement> events) =>
        events.Last(item => item.GetProperty("type").GetString() == "completion").GetProperty("text").GetString()!;

    /// <summary>Owner, mode, type, inode and content of each path (links not followed).</summary>
    private static string Snapshot(params string[] paths) => string.Join('\n', paths.Select(path =>
    {
        var info = new FileInfo(path);
        var content = info.LinkTarget is null && File.Exists(path) && !Describe(path).EndsWith("socket", StringComparison.Ordinal) ? File.ReadAllText(path) : "";
        return $"{path} {Describe(path)} {Stat(path, "%i")} {content}";
    }));

    private static string Describe(string path)
    {
        var described = Stat(path, "%u:%g %a %F");
        return described.Replace("regular file", "regular", StringComparison.Ordinal).Replace("regular empty file", "regular", StringComparison.Ordinal);
    }

    private static string Stat(string path, string format)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", format, path]) { RedirectStandardOutput = true })!;
        var output = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        return output;
    }
}
