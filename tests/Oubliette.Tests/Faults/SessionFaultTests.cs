using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Oubliette.Agents;
using Oubliette.Agents.OpenCode;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Operations;
using Oubliette.Projects;
using Oubliette.Sessions;
using Oubliette.Testing;
using Prometheus;

namespace Oubliette.Tests.Faults;

/// <summary>
/// Refused spawns and messages change nothing: the sessions layer over fakes of the container engine and the agent, with
/// a real (small, full) file system for the disk-full cases.
/// </summary>
public sealed class SessionFaultTests : IAsyncLifetime
{
    private const string Config = """
        {
          "server": { "address": "127.0.0.1:0" },
          "credentials": { "providers": { "credentials": { "scripted": { "provider": "openai-compatible", "api_key": "sk-x", "base_url": "http://127.0.0.1:9/v1" } }, "default": "scripted" } },
          "models": { "models": { "fast": { "model": "m", "provider": "scripted" } }, "defaults": { "session_model": "fast" } },
        }
        """;

    private static readonly Caller Admin = new("test", "test", TokenScope.Admin);
    private readonly List<string> _mounts = [];
    private TestHome _home = null!;
    private FakeContainerRuntime _engine = null!;
    private FakeAgentRuntime _agent = null!;
    private ProjectService _projects = null!;
    private SessionService _sessions = null!;
    private ActiveSessionCounts _active = null!;
    private ProjectPaths _paths = null!;
    private AgentEventHub _hub = null!;

    public async Task InitializeAsync()
    {
        _home = await TestHome.CreateAsync(Config);
        var config = ConfigParser.Load(_home.Home.ConfigFile);
        var time = TimeProvider.System;
        _paths = new ProjectPaths(_home.Home, config);
        _engine = new FakeContainerRuntime();
        _agent = new FakeAgentRuntime();
        _active = new ActiveSessionCounts();
        var audit = new AuditLog(_home.Home.AuditLog, time);
        var containers = new ProjectContainers(_engine, _paths, config, new ContainerLabelSet(new Dictionary<string, string>()), NullLogger<ProjectContainers>.Instance);
        _projects = new ProjectService(new ProjectStore(_paths), _paths, containers, new GitWorkspaces(config), new CloneSourcePolicy(config), new KeyedLocks(), config, _active, audit, time,
            [], NullLogger<ProjectService>.Instance);
        _hub = new AgentEventHub();
        _sessions = new SessionService(_projects, _agent, _hub, new OpenCodeConfigWriter(config), new SessionStore(_paths), config,
            new OublietteMetrics(Metrics.NewCustomRegistry()), _active, audit, new AgentToolCalls(), time, NullLogger<SessionService>.Instance);
    }

    public async Task DisposeAsync()
    {
        foreach (var mount in _mounts)
        {
            await RunAsync("umount", "-l", mount);
        }

        await _home.DisposeAsync();
    }

    [Fact]
    public async Task Spawn_whose_prompt_is_refused_leaves_no_session_behind()
    {
        var project = await CreateProjectAsync();
        _agent.PromptFailure = new HttpRequestException("Connection refused (opencode:80)");

        var exception = await Assert.ThrowsAsync<ExternalFailureException>(() => SpawnAsync(project));

        Assert.Contains("could not be delivered", exception.Message, StringComparison.Ordinal);
        Assert.Contains("Connection refused", exception.Message, StringComparison.Ordinal);
        Assert.Empty(_sessions.List(project, null));
        Assert.Equal(0, _active.Get(project));
        Assert.Empty(SessionFiles(project));
    }

    [Fact]
    public async Task Spawn_on_a_full_disk_is_refused_clearly_and_leaves_nothing()
    {
        var project = await CreateProjectAsync();
        await FillAsync(_paths.SessionsDirectory(project));

        var exception = await Assert.ThrowsAsync<ExternalFailureException>(() => SpawnAsync(project));

        Assert.Matches("^could not save session gogol_[0-9_a-f]+: no space left on device$", exception.Message);
        Assert.Empty(_sessions.List(project, null));
        Assert.Equal(0, _active.Get(project));
        Assert.Empty(_agent.Prompts);
        Assert.Empty(SessionFiles(project));
    }

    [Fact]
    public async Task Message_whose_prompt_is_refused_leaves_the_session_idle_and_the_turn_unrecorded()
    {
        var project = await CreateProjectAsync();
        var (session, before) = await IdleSessionAsync(project);
        var active = _active.Get(project);
        _agent.PromptFailure = new HttpRequestException("Connection refused (opencode:80)");

        var exception = await Assert.ThrowsAsync<ExternalFailureException>(() => _sessions.MessageAsync(session, "second", null, CancellationToken.None));

        Assert.Contains($"session {session} is unchanged (idle)", exception.Message, StringComparison.Ordinal);
        var after = _sessions.Get(session);
        Assert.Equal(SessionStatus.Idle, after.Status);
        Assert.False(after.Ended);
        Assert.Equal(before.Turns.Count, after.Turns.Count);
        Assert.Equal(active, _active.Get(project));

        // And the session still works once the agent takes prompts again.
        _agent.PromptFailure = null;
        await _sessions.MessageAsync(session, "third", null, CancellationToken.None);
        Assert.Equal(SessionStatus.Running, _sessions.Get(session).Status);
    }

    [Fact]
    public async Task Message_on_a_full_disk_is_refused_clearly_and_the_session_stays_idle()
    {
        var project = await CreateProjectAsync();
        var (session, before) = await IdleSessionAsync(project);
        var active = _active.Get(project);
        var file = Path.Combine(_paths.SessionsDirectory(project), session + ".json");
        // The idle state is saved in the background: read the file once it holds it, or a late save races the fill.
        var saved = await File.ReadAllTextAsync(file, CancellationToken.None);
        for (var attempt = 0; attempt < 100 && !saved.Contains("\"status\": \"idle\"", StringComparison.Ordinal); attempt++)
        {
            await Task.Delay(50, CancellationToken.None);
            saved = await File.ReadAllTextAsync(file, CancellationToken.None);
        }

        Assert.Contains("\"status\": \"idle\"", saved, StringComparison.Ordinal);
        await FillAsync(_paths.SessionsDirectory(project), keep: file);

        var exception = await Assert.ThrowsAsync<ExternalFailureException>(() => _sessions.MessageAsync(session, "second", null, CancellationToken.None));

        Assert.Equal($"could not save session {session}: no space left on device", exception.Message);
        var after = _sessions.Get(session);
        Assert.Equal(SessionStatus.Idle, after.Status);
        Assert.Equal(before.Turns.Count, after.Turns.Count);
        Assert.Equal(active, _active.Get(project));
        Assert.Equal(["first"], _agent.Prompts);
        Assert.Equal(saved, await File.ReadAllTextAsync(file, CancellationToken.None));
    }

    private async Task<Guid> CreateProjectAsync() =>
        (await _projects.CreateAsync(new CreateProjectRequest("faults-" + Guid.NewGuid().ToString("N")[..6]), Admin, CancellationToken.None)).Id;

    private Task<SpawnResult> SpawnAsync(Guid project, string prompt = "first") =>
        _sessions.SpawnAsync(new SpawnRequest(project, prompt, null, false, true, null), "test", null, CancellationToken.None);

    /// <summary>A session whose first turn went through and finished.</summary>
    private async Task<(string SessionId, SessionMetadata Metadata)> IdleSessionAsync(Guid project)
    {
        var spawned = await SpawnAsync(project);
        // The agent reports the turn done, as OpenCode's idle event does.
        _hub.Publish(project, new AgentEvent(_sessions.Get(spawned.SessionId).AgentSessionId, AgentEventKind.Idle));
        var metadata = _sessions.Get(spawned.SessionId);
        Assert.Equal(SessionStatus.Idle, metadata.Status);
        return (spawned.SessionId, metadata);
    }

    private string[] SessionFiles(Guid project) =>
        Directory.Exists(_paths.SessionsDirectory(project)) ? Directory.GetFiles(_paths.SessionsDirectory(project), "*.json*") : [];

    /// <summary>Mounts a small tmpfs over the folder (keeping <paramref name="keep"/>) and fills it to the last byte.</summary>
    private async Task FillAsync(string directory, string? keep = null)
    {
        Directory.CreateDirectory(directory);
        var kept = keep is null ? null : await File.ReadAllBytesAsync(keep, CancellationToken.None);
        Assert.Equal(0, await RunAsync("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", directory));
        _mounts.Add(directory);
        if (keep is not null && kept is not null)
        {
            await File.WriteAllBytesAsync(keep, kept, CancellationToken.None);
        }

        await RunAsync("sh", "-c", $"dd if=/dev/zero of='{directory}/filler' bs=4k 2>/dev/null; true");
    }

    private static async Task<int> RunAsync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        await process.WaitForExitAsync();
        return process.ExitCode;
    }
}
