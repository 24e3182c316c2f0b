using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Oubliette.Agents;
using Oubliette.Agents.OpenCode;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Operations;
using Oubliette.Projects;
using Oubliette.Sessions;
using Oubliette.Testing;

namespace Oubliette.Tests.Cleanup;

/// <summary>The projects and sessions layers over fakes of the engine and the agent, on a fake clock.</summary>
internal sealed class SessionHarness : IAsyncDisposable
{
    public static readonly Caller Admin = new("test", "test", TokenScope.Admin);

    private SessionHarness(TestHome home, FakeTimeProvider time, OublietteConfig config)
    {
        Home = home;
        Time = time;
        Config = config;
        Paths = new ProjectPaths(home.Home, config);
        Engine = new FakeContainerRuntime();
        Agent = new FakeAgentRuntime();
        Metrics = new OublietteMetrics(Prometheus.Metrics.NewCustomRegistry());
        var active = new ActiveSessionCounts();
        var audit = new AuditLog(home.Home.AuditLog, time);
        Store = new ProjectStore(Paths);
        Containers = new ProjectContainers(Engine, Paths, config, ContainerLabelSet.None, NullLogger<ProjectContainers>.Instance);
        Projects = new ProjectService(Store, Paths, Containers, new GitWorkspaces(config), new CloneSourcePolicy(config), Locks, config, active, audit, time, [],
            NullLogger<ProjectService>.Instance);
        Hub = new AgentEventHub();
        Sessions = new SessionService(Projects, Agent, Hub, new OpenCodeConfigWriter(config), new SessionStore(Paths), config, Metrics, active, audit,
            new AgentToolCalls(), time, NullLogger<SessionService>.Instance);
    }

    public TestHome Home { get; }
    public FakeTimeProvider Time { get; }
    public OublietteConfig Config { get; }
    public ProjectPaths Paths { get; }
    public FakeContainerRuntime Engine { get; }
    public FakeAgentRuntime Agent { get; }
    public OublietteMetrics Metrics { get; }
    public KeyedLocks Locks { get; } = new();
    public ProjectStore Store { get; }
    public ProjectContainers Containers { get; }
    public ProjectService Projects { get; }
    public AgentEventHub Hub { get; }
    public SessionService Sessions { get; }

    /// <param name="limits">JSON members of defaults.limits.</param>
    /// <param name="cleanup">JSON members of defaults.cleanup.</param>
    public static async Task<SessionHarness> CreateAsync(string limits = "", string cleanup = "")
    {
        var config = $$"""
            {
              "server": { "address": "127.0.0.1:0" },
              "credentials": { "providers": { "credentials": { "scripted": { "provider": "openai-compatible", "api_key": "sk-x", "base_url": "http://127.0.0.1:9/v1" } }, "default": "scripted" } },
              "models": { "models": { "fast": { "model": "m", "provider": "scripted" } }, "defaults": { "session_model": "fast" } },
              "defaults": { "limits": { {{limits}} }, "cleanup": { {{cleanup}} } },
            }
            """;
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
        var home = await TestHome.CreateAsync(config, time);
        return new SessionHarness(home, time, ConfigParser.Load(home.Home.ConfigFile));
    }

    public async Task<Guid> CreateProjectAsync(bool isolated = false) =>
        (await Projects.CreateAsync(new CreateProjectRequest("p-" + Guid.NewGuid().ToString("N")[..6]) { WorkspaceIsolation = isolated }, Admin,
            CancellationToken.None)).Id;

    /// <summary>A new session whose turn is running (the agent has the prompt and has not finished).</summary>
    public async Task<string> RunningSessionAsync(Guid project, string prompt = "first", string? parent = null) =>
        (await Sessions.SpawnAsync(new SpawnRequest(project, prompt, null, false, true, null, ParentSessionId: parent), "test", null, CancellationToken.None)).SessionId;

    /// <summary>A new session whose first turn went through and finished now.</summary>
    public async Task<string> IdleSessionAsync(Guid project, string? parent = null)
    {
        var session = await RunningSessionAsync(project, parent: parent);
        FinishTurn(project, session);
        Assert.Equal(SessionStatus.Idle, Sessions.Get(session).Status);
        return session;
    }

    public void FinishTurn(Guid project, string session) =>
        Hub.Publish(project, new AgentEvent(Sessions.Get(session).AgentSessionId, AgentEventKind.Idle));

    /// <summary>Waits until the session's file (written in the background after a turn) records <paramref name="status"/>.</summary>
    public async Task SavedAsync(Guid project, string session, string status)
    {
        var file = Path.Combine(Paths.SessionsDirectory(project), session + ".json");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!File.Exists(file) || !(await File.ReadAllTextAsync(file, timeout.Token)).Contains($"\"status\": \"{status}\"", StringComparison.Ordinal))
        {
            await Task.Delay(20, timeout.Token);
        }
    }

    public double ActiveGauge(Guid project) => Metrics.ActiveSessions.WithLabels(project.ToString("D")).Value;

    public async ValueTask DisposeAsync()
    {
        // Sessions save their state in the background (a timeout, a finished turn): such a write may still be landing.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await Home.DisposeAsync();
                return;
            }
            catch (IOException) when (attempt < 5)
            {
                await Task.Delay(100);
            }
        }
    }
}
