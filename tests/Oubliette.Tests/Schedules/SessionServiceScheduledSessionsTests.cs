using Microsoft.Extensions.Logging.Abstractions;
using Oubliette.Agents;
using Oubliette.Agents.OpenCode;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Operations;
using Oubliette.Projects;
using Oubliette.Schedules;
using Oubliette.Sessions;
using Oubliette.Testing;
using Prometheus;

namespace Oubliette.Tests.Schedules;

/// <summary>The runner's port over the real <see cref="SessionService"/> (fake container engine and agent): turns, excerpts, usage per run.</summary>
public sealed class SessionServiceScheduledSessionsTests : IAsyncLifetime
{
    private const string Config = """
        {
          "server": { "address": "127.0.0.1:0" },
          "credentials": { "providers": { "credentials": { "scripted": { "provider": "openai-compatible", "api_key": "sk-x", "base_url": "http://127.0.0.1:9/v1" } }, "default": "scripted" } },
          "models": { "models": { "fast": { "model": "m", "provider": "scripted" }, "deep": { "model": "d", "provider": "scripted" } }, "defaults": { "session_model": "fast" } },
        }
        """;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private TestHome _home = null!;
    private ProjectService _projects = null!;
    private AgentEventHub _hub = null!;
    private SessionService _sessions = null!;
    private SessionServiceScheduledSessions _port = null!;

    public async Task InitializeAsync()
    {
        _home = await TestHome.CreateAsync(Config);
        var config = ConfigParser.Load(_home.Home.ConfigFile);
        var paths = new ProjectPaths(_home.Home, config);
        var active = new ActiveSessionCounts();
        var audit = new AuditLog(_home.Home.AuditLog, TimeProvider.System);
        var containers = new ProjectContainers(new FakeContainerRuntime(), paths, config, new ContainerLabelSet(new Dictionary<string, string>()), NullLogger<ProjectContainers>.Instance);
        _projects = new ProjectService(new ProjectStore(paths), paths, containers, new GitWorkspaces(config), new CloneSourcePolicy(config), new KeyedLocks(), config, active, audit,
            TimeProvider.System, [], NullLogger<ProjectService>.Instance);
        _hub = new AgentEventHub();
        _sessions = new SessionService(_projects, new FakeAgentRuntime(), _hub, new OpenCodeConfigWriter(config), new SessionStore(paths), config,
            new OublietteMetrics(Metrics.NewCustomRegistry()), active, audit, new AgentToolCalls(), TimeProvider.System, NullLogger<SessionService>.Instance);
        _port = new SessionServiceScheduledSessions(_sessions);
    }

    public async Task DisposeAsync() => await _home.DisposeAsync();

    [Fact]
    public async Task A_spawned_turn_and_a_resumed_turn_report_their_final_text_and_their_own_usage()
    {
        var project = await CreateProjectAsync();
        var first = await _port.SpawnAsync(new ScheduledSpawn(project, null, "first", "deep", "high", "low"), "tok_creator", CancellationToken.None);
        var metadata = _sessions.Get(first.SessionId);
        Assert.Equal(("scripted/d", "high", "low", 0), (metadata.Model, metadata.Autonomy, metadata.Reasoning, first.TurnIndex));
        Assert.False(_port.IsUsable(first.SessionId));

        var firstOutcome = _port.WaitTurnAsync(first, CancellationToken.None);
        Finish(project, first.SessionId, "answer one", 100, 20, 0.5);
        Assert.Equal(new ScheduledTurnOutcome(true, "answer one", null, 100, 20, 0.5), await firstOutcome.WaitAsync(Patience));
        Assert.True(_port.IsUsable(first.SessionId));

        var second = await _port.MessageAsync(first.SessionId, "second", CancellationToken.None);
        Assert.Equal((1, 100L, 20L, 0.5), (second.TurnIndex, second.TokensInBefore, second.TokensOutBefore, second.CostUsdBefore));
        var secondOutcome = _port.WaitTurnAsync(second, CancellationToken.None);
        Assert.False(secondOutcome.IsCompleted);
        Finish(project, first.SessionId, "answer two", 7, 3, 0.25);
        Assert.Equal(new ScheduledTurnOutcome(true, "answer two", null, 7, 3, 0.25), await secondOutcome.WaitAsync(Patience));
    }

    [Fact]
    public async Task A_failed_turn_reports_the_agents_error()
    {
        var project = await CreateProjectAsync();
        var turn = await _port.SpawnAsync(new ScheduledSpawn(project, null, "first", null, null, null), "tok_creator", CancellationToken.None);
        var outcome = _port.WaitTurnAsync(turn, CancellationToken.None);
        var agentSession = _sessions.Get(turn.SessionId).AgentSessionId;

        _hub.Publish(project, new AgentEvent(agentSession, AgentEventKind.Error, Text: "provider said no"));
        _hub.Publish(project, new AgentEvent(agentSession, AgentEventKind.Idle));

        var result = await outcome.WaitAsync(Patience);
        Assert.Equal((false, "provider said no"), (result.Succeeded, result.Error));
    }

    [Fact]
    public async Task A_long_final_text_is_cut_to_the_excerpt_bound()
    {
        var project = await CreateProjectAsync();
        var turn = await _port.SpawnAsync(new ScheduledSpawn(project, null, "first", null, null, null), "tok_creator", CancellationToken.None);
        var outcome = _port.WaitTurnAsync(turn, CancellationToken.None);

        Finish(project, turn.SessionId, new string('x', 5000), 1, 1, 0);

        Assert.Equal(new string('x', SessionServiceScheduledSessions.MaxExcerptChars), (await outcome.WaitAsync(Patience)).OutputExcerpt);
    }

    [Fact]
    public async Task An_ended_or_unknown_session_is_not_usable_and_ending_it_mid_turn_fails_the_turn()
    {
        var project = await CreateProjectAsync();
        var turn = await _port.SpawnAsync(new ScheduledSpawn(project, null, "first", null, null, null), "tok_creator", CancellationToken.None);
        var outcome = _port.WaitTurnAsync(turn, CancellationToken.None);

        await _sessions.EndAsync(turn.SessionId, "test", CancellationToken.None);

        Assert.False((await outcome.WaitAsync(Patience)).Succeeded);
        Assert.False(_port.IsUsable(turn.SessionId));
        Assert.False(_port.IsUsable("gogol_nope"));
    }

    [Fact]
    public async Task The_runner_resumes_the_pinned_session_and_spawns_a_new_one_once_it_has_ended()
    {
        var project = await CreateProjectAsync();
        var store = new InMemoryScheduleRunStore();
        var tokens = new FakeScheduleTokens();
        tokens.Add("tok_creator", TokenScope.Project(project));
        store.Put(new Schedule("sch_1", "nightly", "0 3 * * *", null, "check the build", [new ScheduleTarget(project, null)], true, OverlapBehavior.Skip,
            SessionBehavior.Resume, null, null, null, "tok_creator", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, null, null));
        using var runner = new ScheduleRunner(store, _port, tokens, SchedulesConfig.Default, new OublietteMetrics(Metrics.NewCustomRegistry()), TimeProvider.System,
            NullLogger<ScheduleRunner>.Instance);

        var first = await RunOnceAsync(runner, store, "run one");
        var second = await RunOnceAsync(runner, store, "run two");
        await _sessions.EndAsync(first.SessionId!, "test", CancellationToken.None);
        var third = await RunOnceAsync(runner, store, "run three");

        Assert.Equal(first.SessionId, second.SessionId);
        Assert.NotEqual(first.SessionId, third.SessionId);
        Assert.Equal(["check the build", "check the build"], _sessions.Get(first.SessionId!).Turns.Select(turn => turn.Prompt));
        Assert.Equal(third.SessionId, store.Schedule("sch_1").Targets[0].PinnedSessionId);
        Assert.Equal(["run one", "run two", "run three"], new[] { first, second, third }.Select(execution => execution.OutputExcerpt));
    }

    /// <summary>Triggers the schedule, lets the agent answer, and returns the finished execution.</summary>
    private async Task<ScheduleExecution> RunOnceAsync(ScheduleRunner runner, InMemoryScheduleRunStore store, string answer)
    {
        var id = Assert.Single(await runner.TriggerAsync("sch_1", CancellationToken.None));
        var started = (await store.WaitForAsync(all => all.Any(execution => execution.Id == id && execution.SessionId is not null), Patience)).Single(execution => execution.Id == id);
        Finish(started.ProjectId, started.SessionId!, answer, 1, 1, 0);
        await runner.IdleAsync();
        var finished = store.Executions.Single(execution => execution.Id == id);
        Assert.Equal(ExecutionStatus.Success, finished.Status);
        return finished;
    }

    private void Finish(Guid project, string sessionId, string text, long tokensIn, long tokensOut, double cost)
    {
        var agentSession = _sessions.Get(sessionId).AgentSessionId;
        _sessions.RecordUsage(project, agentSession, tokensIn, tokensOut, cost);
        _hub.Publish(project, new AgentEvent(agentSession, AgentEventKind.Message, Text: text));
        _hub.Publish(project, new AgentEvent(agentSession, AgentEventKind.Idle));
    }

    private async Task<Guid> CreateProjectAsync() =>
        (await _projects.CreateAsync(new CreateProjectRequest("sched-" + Guid.NewGuid().ToString("N")[..6]), new Caller("test", "test", TokenScope.Admin), CancellationToken.None)).Id;
}
