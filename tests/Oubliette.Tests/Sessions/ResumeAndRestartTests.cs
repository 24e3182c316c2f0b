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

namespace Oubliette.Tests.Sessions;

/// <summary>
/// A spawn that resumes checks its arguments as a fresh spawn does and applies them; a restarted server counts as dropped
/// only events that existed. The sessions layer over fakes of the container engine and the agent.
/// </summary>
public sealed class ResumeAndRestartTests : IAsyncLifetime
{
    private const string Config = """
        {
          "server": { "address": "127.0.0.1:0" },
          "credentials": { "providers": { "credentials": { "scripted": { "provider": "openai-compatible", "api_key": "sk-x", "base_url": "http://127.0.0.1:9/v1" } }, "default": "scripted" } },
          "models": { "models": { "fast": { "model": "m", "provider": "scripted" }, "deep": { "model": "d", "provider": "scripted" } }, "defaults": { "session_model": "fast" } },
        }
        """;

    private static readonly Caller Admin = new("test", "test", TokenScope.Admin);
    private TestHome _home = null!;
    private OublietteConfig _config = null!;
    private FakeAgentRuntime _agent = null!;
    private ProjectService _projects = null!;
    private ProjectPaths _paths = null!;
    private AgentEventHub _hub = null!;
    private SessionService _sessions = null!;

    public async Task InitializeAsync()
    {
        _home = await TestHome.CreateAsync(Config);
        _config = ConfigParser.Load(_home.Home.ConfigFile);
        _paths = new ProjectPaths(_home.Home, _config);
        _agent = new FakeAgentRuntime();
        var active = new ActiveSessionCounts();
        var audit = new AuditLog(_home.Home.AuditLog, TimeProvider.System);
        var containers = new ProjectContainers(new FakeContainerRuntime(), _paths, _config, new ContainerLabelSet(new Dictionary<string, string>()), NullLogger<ProjectContainers>.Instance);
        _projects = new ProjectService(new ProjectStore(_paths), _paths, containers, new GitWorkspaces(_config), new CloneSourcePolicy(_config), new KeyedLocks(), _config, active, audit,
            TimeProvider.System, [], NullLogger<ProjectService>.Instance);
        (_sessions, _hub) = NewSessionService();
    }

    public async Task DisposeAsync() => await _home.DisposeAsync();

    [Theory]
    [InlineData("reasoning", "ultra", "reasoning 'ultra' is not valid (allowed: off, low, medium, high)")]
    [InlineData("autonomy", "total", "autonomy 'total' is not valid (allowed: off, low, medium, high)")]
    [InlineData("model", "gpt-9", "model 'gpt-9' is not configured (configured: fast, deep)")]
    public async Task A_spawn_that_would_resume_refuses_bad_settings_as_a_fresh_spawn_does(string field, string value, string expected)
    {
        var project = await CreateProjectAsync();
        var (session, before) = await IdleSessionAsync(project);
        var request = field switch
        {
            "reasoning" => new SpawnRequest(project, "again", null, false, false, null, Reasoning: value),
            "autonomy" => new SpawnRequest(project, "again", null, false, false, null, Autonomy: value),
            _ => new SpawnRequest(project, "again", null, false, false, value),
        };

        var exception = await Assert.ThrowsAsync<InvalidArgumentException>(() => _sessions.SpawnAsync(request, "test", null, CancellationToken.None));

        Assert.Equal(expected, exception.Message);
        var after = _sessions.Get(session);
        Assert.Equal(SessionStatus.Idle, after.Status);
        Assert.Equal(before.Turns.Count, after.Turns.Count);
        Assert.Equal((before.Model, before.Autonomy, before.Reasoning), (after.Model, after.Autonomy, after.Reasoning));
        Assert.Equal(["first"], _agent.Prompts);
    }

    [Fact]
    public async Task A_spawn_that_resumes_applies_the_model_autonomy_and_reasoning_it_names()
    {
        var project = await CreateProjectAsync();
        var (session, before) = await IdleSessionAsync(project);
        Assert.Equal(("scripted/m", "off", "off"), (before.Model, before.Autonomy, before.Reasoning));

        var resumed = await _sessions.SpawnAsync(new SpawnRequest(project, "again", null, false, false, "deep", "high", "medium"), "test", null, CancellationToken.None);

        Assert.True(resumed.Resumed);
        Assert.Equal(session, resumed.SessionId);
        var after = _sessions.Get(session);
        Assert.Equal(("scripted/d", "high", "medium"), (after.Model, after.Autonomy, after.Reasoning));
        Assert.Equal(["first", "again"], _agent.Prompts);
    }

    [Fact]
    public async Task A_spawn_that_resumes_without_settings_keeps_the_sessions_own()
    {
        var project = await CreateProjectAsync();
        var spawned = await _sessions.SpawnAsync(new SpawnRequest(project, "first", null, false, true, "deep", "low", "high"), "test", null, CancellationToken.None);
        _hub.Publish(project, new AgentEvent(_sessions.Get(spawned.SessionId).AgentSessionId, AgentEventKind.Idle));

        var resumed = await _sessions.SpawnAsync(new SpawnRequest(project, "again", null, false, false, null), "test", null, CancellationToken.None);

        Assert.True(resumed.Resumed);
        var after = _sessions.Get(spawned.SessionId);
        Assert.Equal(("scripted/d", "low", "high"), (after.Model, after.Autonomy, after.Reasoning));
    }

    [Fact]
    public async Task After_a_restart_a_reader_that_saw_every_event_is_told_nothing_was_dropped()
    {
        var project = await CreateProjectAsync();
        var (session, _) = await IdleSessionAsync(project);
        var (page, _) = _sessions.Events(session, -1, null, null);
        var lastSeen = page.LastIndex;
        await SavedAsync(project, session, lastSeen);

        var (restarted, _) = NewSessionService();
        await restarted.RecoverAsync(CancellationToken.None);
        var (after, _) = restarted.Events(session, lastSeen, null, null);
        var (fromOlder, _) = restarted.Events(session, lastSeen - 2, null, null);

        Assert.Empty(after.Events);
        Assert.Equal(0, after.Dropped);
        Assert.Equal(2, fromOlder.Dropped);
    }

    [Fact]
    public async Task After_a_restart_events_of_the_new_run_follow_the_old_ones_without_a_false_gap()
    {
        var project = await CreateProjectAsync();
        var (session, _) = await IdleSessionAsync(project);
        var lastSeen = _sessions.Events(session, -1, null, null).Page.LastIndex;
        await SavedAsync(project, session, lastSeen);
        var (restarted, hub) = NewSessionService();
        await restarted.RecoverAsync(CancellationToken.None);

        await restarted.MessageAsync(session, "second", null, CancellationToken.None);
        hub.Publish(project, new AgentEvent(restarted.Get(session).AgentSessionId, AgentEventKind.Idle));
        var (page, _) = restarted.Events(session, lastSeen, null, null);

        Assert.Equal(0, page.Dropped);
        Assert.NotEmpty(page.Events);
        Assert.True(page.Events[0].Index > lastSeen);
        await SavedAsync(project, session, page.LastIndex);

        // A second restart keeps the count exact for a reader of the second run.
        var (again, _) = NewSessionService();
        await again.RecoverAsync(CancellationToken.None);
        Assert.Equal(0, again.Events(session, page.LastIndex, null, null).Page.Dropped);
        Assert.Equal(1, again.Events(session, page.LastIndex - 1, null, null).Page.Dropped);
    }

    private (SessionService Sessions, AgentEventHub Hub) NewSessionService()
    {
        var hub = new AgentEventHub();
        var sessions = new SessionService(_projects, _agent, hub, new OpenCodeConfigWriter(_config), new SessionStore(_paths), _config,
            new OublietteMetrics(Metrics.NewCustomRegistry()), new ActiveSessionCounts(), new AuditLog(_home.Home.AuditLog, TimeProvider.System), new AgentToolCalls(),
            TimeProvider.System, NullLogger<SessionService>.Instance);
        return (sessions, hub);
    }

    private async Task<Guid> CreateProjectAsync() =>
        (await _projects.CreateAsync(new CreateProjectRequest("resume-" + Guid.NewGuid().ToString("N")[..6]), Admin, CancellationToken.None)).Id;

    /// <summary>A session whose first turn went through and finished.</summary>
    private async Task<(string SessionId, SessionMetadata Metadata)> IdleSessionAsync(Guid project)
    {
        var spawned = await _sessions.SpawnAsync(new SpawnRequest(project, "first", null, false, true, null), "test", null, CancellationToken.None);
        _hub.Publish(project, new AgentEvent(_sessions.Get(spawned.SessionId).AgentSessionId, AgentEventKind.Idle));
        var metadata = _sessions.Get(spawned.SessionId);
        Assert.Equal(SessionStatus.Idle, metadata.Status);
        return (spawned.SessionId, metadata);
    }

    /// <summary>The session file is written in the background after a turn: waits until it records the last event.</summary>
    private async Task SavedAsync(Guid project, string session, long lastIndex)
    {
        var file = Path.Combine(_paths.SessionsDirectory(project), session + ".json");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!System.Text.RegularExpressions.Regex.IsMatch(await File.ReadAllTextAsync(file, timeout.Token), $"\"last_event_index\": {lastIndex}\\b"))
        {
            await Task.Delay(20, timeout.Token);
        }
    }
}
