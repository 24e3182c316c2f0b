using Microsoft.Extensions.Logging.Abstractions;
using Oubliette.Agents;
using Oubliette.Agents.OpenCode;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Mcp;
using Oubliette.Operations;
using Oubliette.Projects;
using Oubliette.Sessions;
using Oubliette.Testing;
using Prometheus;

namespace Oubliette.Tests.Projects;

/// <summary>
/// The container spec (init, main process, log limits) and <c>container refresh</c>: the real tool and project layer
/// over a fake engine (images "rebuilt" by changing their ids) and a fake agent.
/// </summary>
public sealed class ContainerRefreshTests : IAsyncLifetime
{
    private const string Config = """
        {
          "server": { "address": "127.0.0.1:0" },
          "credentials": { "providers": { "credentials": { "scripted": { "provider": "openai-compatible", "api_key": "sk-x", "base_url": "http://127.0.0.1:9/v1" } }, "default": "scripted" } },
          "models": { "models": { "fast": { "model": "m", "provider": "scripted" } }, "defaults": { "session_model": "fast" } },
        }
        """;

    private static readonly Caller Admin = new("test", "test", TokenScope.Admin);
    private TestHome _home = null!;
    private FakeContainerRuntime _engine = null!;
    private FakeAgentRuntime _agent = null!;
    private ProjectService _projects = null!;
    private ProjectContainers _containers = null!;
    private SessionService _sessions = null!;
    private AgentEventHub _hub = null!;
    private AuditLog _audit = null!;

    public async Task InitializeAsync()
    {
        _home = await TestHome.CreateAsync(Config);
        var config = ConfigParser.Load(_home.Home.ConfigFile);
        var time = TimeProvider.System;
        var paths = new ProjectPaths(_home.Home, config);
        _engine = new FakeContainerRuntime();
        _agent = new FakeAgentRuntime();
        var active = new ActiveSessionCounts();
        _audit = new AuditLog(_home.Home.AuditLog, time);
        _containers = new ProjectContainers(_engine, paths, config, new ContainerLabelSet(new Dictionary<string, string>()), NullLogger<ProjectContainers>.Instance);
        _projects = new ProjectService(new ProjectStore(paths), paths, _containers, new GitWorkspaces(config), new CloneSourcePolicy(config), new KeyedLocks(), config, active, _audit, time,
            [], NullLogger<ProjectService>.Instance);
        _hub = new AgentEventHub();
        _sessions = new SessionService(_projects, _agent, _hub, new OpenCodeConfigWriter(config), new SessionStore(paths), config,
            new OublietteMetrics(Metrics.NewCustomRegistry()), active, _audit, new AgentToolCalls(), time, NullLogger<SessionService>.Instance);
    }

    public async Task DisposeAsync() => await _home.DisposeAsync();

    [Fact]
    public async Task A_new_container_runs_the_engines_init_following_the_agent_log_with_a_rotated_log()
    {
        await CreateProjectAsync();

        var spec = Assert.Single(_engine.Created);
        Assert.True(spec.Init);
        Assert.Equal(["sh", "-c", "exec tail -F -n 0 -q /run/agent/agent.log 2>/dev/null"], spec.Command);
        Assert.Equal(10L * 1024 * 1024, spec.LogMaxBytes);
        Assert.Equal(3, spec.LogMaxFiles);
        Assert.Equal(ProjectContainers.SpecVersion, spec.Labels[ProjectContainers.SpecLabel]);
        // The followed file is the one the agent's start script appends to, in the agent's run folder.
        Assert.StartsWith(ProjectContainers.RunMountPoint + "/", ProjectContainers.AgentLogInContainer, StringComparison.Ordinal);
        Assert.Contains(spec.Mounts, mount => mount.ContainerPath == ProjectContainers.RunMountPoint);
    }

    [Fact]
    public async Task Refresh_of_a_current_container_changes_nothing()
    {
        var project = await CreateProjectAsync();

        var result = await Tool().RunAsync("refresh", project.ToString("D"), cancellationToken: CancellationToken.None);

        Assert.False(result.Refreshed);
        Assert.Empty(result.Removed!);
        Assert.Equal(0, _engine.RemoveCalls);
        Assert.Single(_engine.Created);
        Assert.True(result.Status!.Running);
    }

    [Fact]
    public async Task Refresh_after_a_rebuild_makes_the_container_again_from_the_new_image()
    {
        var project = await CreateProjectAsync();
        var metadata = await _projects.RequireAsync(project, CancellationToken.None);
        var image = _containers.ImageOf(metadata);
        _engine.ImageIds[image] = "sha256:rebuilt";
        var before = Assert.Single(await _containers.StatesAsync(metadata, CancellationToken.None));
        Assert.False(before.Current);

        var result = await Tool().RunAsync("refresh", project.ToString("D"), cancellationToken: CancellationToken.None);

        Assert.True(result.Refreshed);
        Assert.Equal([ProjectContainers.NameOf(project)], result.Removed);
        Assert.Equal(2, _engine.Created.Count);
        var after = Assert.Single(await _containers.StatesAsync(metadata, CancellationToken.None));
        Assert.True(after.Current);
        Assert.Equal("sha256:rebuilt", after.ImageId);
        Assert.True(after.Running);
        Assert.Contains("\"container.refresh\"", await File.ReadAllTextAsync(_audit.Path, CancellationToken.None), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refresh_refuses_while_sessions_are_active_naming_them_and_changes_nothing_unless_forced()
    {
        var project = await CreateProjectAsync();
        var spawned = await _sessions.SpawnAsync(new SpawnRequest(project, "first", null, false, true, null), "test", null, CancellationToken.None);
        var metadata = await _projects.RequireAsync(project, CancellationToken.None);
        _engine.ImageIds[_containers.ImageOf(metadata)] = "sha256:rebuilt";

        var refused = await Assert.ThrowsAsync<ConflictException>(() => Tool().RunAsync("refresh", project.ToString("D"), cancellationToken: CancellationToken.None));

        Assert.Contains($"{spawned.SessionId} (running)", refused.Message, StringComparison.Ordinal);
        Assert.Contains("force=true", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, _engine.RemoveCalls);
        Assert.Single(_engine.Created);

        var forced = await Tool().RunAsync("refresh", project.ToString("D"), force: true, cancellationToken: CancellationToken.None);

        Assert.True(forced.Refreshed);
        Assert.Equal(2, _engine.Created.Count);
    }

    [Fact]
    public async Task Refresh_onto_an_image_that_is_not_built_is_refused_and_changes_nothing()
    {
        var project = await CreateProjectAsync();
        var metadata = await _projects.RequireAsync(project, CancellationToken.None);
        _engine.ImageIds[_containers.ImageOf(metadata)] = null;

        var refused = await Assert.ThrowsAsync<NotFoundException>(() => Tool().RunAsync("refresh", project.ToString("D"), force: true, cancellationToken: CancellationToken.None));

        Assert.Contains("oubliette image build --type dev", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, _engine.RemoveCalls);
    }

    [Fact]
    public async Task Refresh_by_a_read_only_token_is_refused()
    {
        var project = await CreateProjectAsync();
        var readOnly = new Caller("ro", "ro", TokenScope.Parse($"project:{project:D}:ro"));

        await Assert.ThrowsAsync<ForbiddenException>(() => Tool(readOnly).RunAsync("refresh", project.ToString("D"), cancellationToken: CancellationToken.None));

        Assert.Equal(0, _engine.RemoveCalls);
    }

    private ContainerTool Tool(Caller? caller = null) =>
        new(_projects, _containers, _agent, _sessions, new Authorizer(_audit), new CallerContext { Caller = caller ?? Admin }, _audit, TimeProvider.System);

    private async Task<Guid> CreateProjectAsync()
    {
        var id = (await _projects.CreateAsync(new CreateProjectRequest("refresh-" + Guid.NewGuid().ToString("N")[..6]), Admin, CancellationToken.None)).Id;
        await _containers.EnsureRunningAsync(await _projects.RequireAsync(id, CancellationToken.None), CancellationToken.None);
        return id;
    }
}
