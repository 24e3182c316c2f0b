using Oubliette.Cleanup;
using Oubliette.Containers;
using Oubliette.Projects;
using Oubliette.Testing;

namespace Oubliette.Tests.Cleanup;

/// <summary>Each kind the cleanup pass removes, on a fake clock with the default retention (60 minutes).</summary>
public sealed class CleanupKindTests : IAsyncLifetime
{
    private static readonly TimeSpan Retention = TimeSpan.FromMinutes(60);
    private SessionHarness _h = null!;

    public async Task InitializeAsync() => _h = await SessionHarness.CreateAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private DateTimeOffset Now => _h.Time.GetUtcNow();

    private Task<int> RunAsync(ICleanupTask task) => task.RunAsync(Now, Now - Retention, CancellationToken.None);

    [Fact]
    public async Task An_ended_session_goes_from_list_and_disk_once_retention_has_passed_since_it_ended()
    {
        var project = await _h.CreateProjectAsync();
        var session = await _h.IdleSessionAsync(project);
        _h.Time.Advance(TimeSpan.FromMinutes(10));
        await _h.Sessions.EndAsync(session, "test", CancellationToken.None);
        var file = Path.Combine(_h.Paths.SessionsDirectory(project), session + ".json");
        Assert.True(File.Exists(file));
        var task = new EndedSessionsCleanup(_h.Sessions);

        _h.Time.Advance(Retention - TimeSpan.FromTicks(1));
        Assert.Equal(0, await RunAsync(task));
        Assert.Single(_h.Sessions.List(project, null));

        _h.Time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(1, await RunAsync(task));

        Assert.Empty(_h.Sessions.List(project, null));
        Assert.False(File.Exists(file));
        Assert.Throws<Errors.NotFoundException>(() => _h.Sessions.Get(session));
    }

    [Fact]
    public async Task A_timed_out_session_goes_once_retention_has_passed_since_it_timed_out_and_live_ones_stay()
    {
        var project = await _h.CreateProjectAsync();
        var parked = await _h.IdleSessionAsync(project);
        _h.Time.Advance(TimeSpan.FromMinutes(30));
        _h.Sessions.TimeOutIdle();
        var idle = await _h.IdleSessionAsync(project);
        var running = await _h.RunningSessionAsync(project, "busy");

        _h.Time.Advance(Retention);
        Assert.Equal(1, await RunAsync(new EndedSessionsCleanup(_h.Sessions)));

        Assert.Equal(new[] { idle, running }.Order(), _h.Sessions.List(project, null).Select(session => session.SessionId).Order());
        Assert.Throws<Errors.NotFoundException>(() => _h.Sessions.Get(parked));
    }

    [Fact]
    public async Task A_session_tree_goes_only_as_a_whole_once_every_member_ended()
    {
        var project = await _h.CreateProjectAsync();
        var root = await _h.RunningSessionAsync(project);
        var child = await _h.IdleSessionAsync(project, parent: root);
        await _h.Sessions.EndAsync(root, "test", CancellationToken.None);
        var task = new EndedSessionsCleanup(_h.Sessions);

        _h.Time.Advance(Retention);
        // The child is idle: neither goes, so the child keeps its root (and the tree's cost).
        Assert.Equal(0, await RunAsync(task));

        await _h.Sessions.EndAsync(child, "test", CancellationToken.None);
        _h.Time.Advance(Retention);
        Assert.Equal(2, await RunAsync(task));
        Assert.Empty(_h.Sessions.List(project, null));
    }

    [Fact]
    public async Task Expired_tokens_go_once_retention_has_passed_since_they_expired_and_others_stay()
    {
        var (store, service) = TestHome.OpenTokens(_h.Home.Home, _h.Time);
        var expiring = await service.CreateAsync("short", "admin", "1h", "test", CancellationToken.None);
        var task = new ExpiredTokensCleanup(store);

        _h.Time.Advance(TimeSpan.FromHours(1) + Retention - TimeSpan.FromSeconds(1));
        Assert.Equal(0, await RunAsync(task));
        _h.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await RunAsync(task));

        var left = await store.ListAsync(CancellationToken.None);
        Assert.DoesNotContain(left, token => token.Id == expiring.Token.Id);
        Assert.Contains(left, token => token.Name == "test-admin");
    }

    [Fact]
    public async Task Server_temp_files_past_retention_go_from_the_folders_the_server_writes_and_nowhere_else()
    {
        var project = await _h.CreateProjectAsync();
        var hex = Guid.NewGuid().ToString("N");
        var old = new[]
        {
            Path.Combine(_h.Paths.Directory(project), $"metadata.json.{hex}.tmp"),
            Path.Combine(_h.Paths.SessionsDirectory(project), $"gogol_x.json.{hex}.tmp"),
            Path.Combine(_h.Paths.AgentConfigDirectory(project), $".opencode.json.{hex}.tmp"),
            Path.Combine(_h.Home.Home.RunDirectory, "oubliette.pid.4242.tmp"),
            Path.Combine(_h.Home.Home.ConfigDirectory, $"oubliette.jsonc.{hex}.tmp"),
        };
        var kept = new[]
        {
            // Fresh (a write in progress), not our name, or in the agent's own run folder.
            Path.Combine(_h.Paths.Directory(project), $"metadata.json.{Guid.NewGuid():N}.tmp"),
            Path.Combine(_h.Paths.Directory(project), "notes.tmp"),
            Path.Combine(_h.Paths.RunDirectory(project), $"agent.log.{hex}.tmp"),
        };
        foreach (var file in old.Concat(kept))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            await File.WriteAllTextAsync(file, "x");
        }

        // File times against the server's (fake) clock: exactly at the cut-off is past retention; now is a write in progress.
        foreach (var file in old.Concat(kept.Skip(1)))
        {
            File.SetLastWriteTimeUtc(file, (Now - Retention).UtcDateTime);
        }

        File.SetLastWriteTimeUtc(kept[0], Now.UtcDateTime);

        Assert.Equal(old.Length, await RunAsync(new TempFilesCleanup(_h.Home.Home)));

        Assert.All(old, file => Assert.False(File.Exists(file), file));
        Assert.All(kept, file => Assert.True(File.Exists(file), file));
    }

    [Fact]
    public async Task Rotated_logs_older_than_retention_days_go_and_todays_log_and_other_files_stay()
    {
        var logs = _h.Home.Home.LogsDirectory;
        var today = Now.UtcDateTime;
        string Log(int daysAgo) => Path.Combine(logs, $"oubliette-{today.AddDays(-daysAgo):yyyyMMdd}.log");
        // logging.retention_days is 14 by default: today and the 13 days before stay.
        var removed = new[] { Log(14), Log(40) };
        var kept = new[] { Log(0), Log(1), Log(13), Path.Combine(logs, "audit.log"), Path.Combine(logs, "oubliette-notes.log") };
        foreach (var file in removed.Concat(kept))
        {
            await File.WriteAllTextAsync(file, "line\n");
        }

        Assert.Equal(2, await RunAsync(new LogFilesCleanup(_h.Home.Home, _h.Config)));

        Assert.All(removed, file => Assert.False(File.Exists(file), file));
        Assert.All(kept, file => Assert.True(File.Exists(file), file));
    }

    [Fact]
    public async Task Stopped_containers_of_deleted_projects_of_this_home_go_and_every_other_container_stays()
    {
        var live = await _h.CreateProjectAsync();
        var isolated = await _h.CreateProjectAsync(isolated: true);
        var deletedWorkspace = Guid.NewGuid();
        var gone = Guid.NewGuid();
        var mine = new BindMount(Path.Combine(_h.Home.Home.ProjectsDirectory, gone.ToString("D"), "run"), "/run/agent");
        var elsewhere = new BindMount("/srv/other-home/data/projects/" + gone.ToString("D") + "/run", "/run/agent");
        await CreateAsync("orphan", gone, null, mine, running: false);
        await CreateAsync("orphan-workspace", isolated, deletedWorkspace, mine, running: false);
        await CreateAsync("still-running", gone, null, mine, running: true);
        await CreateAsync("other-home", gone, null, elsewhere, running: false);
        await CreateAsync("live-project", live, null, mine, running: false);
        var task = new OrphanContainersCleanup(_h.Engine, _h.Store, _h.Home.Home);

        Assert.Equal(2, await RunAsync(task));

        Assert.Null(await _h.Engine.InspectAsync("orphan", CancellationToken.None));
        Assert.Null(await _h.Engine.InspectAsync("orphan-workspace", CancellationToken.None));
        foreach (var name in new[] { "still-running", "other-home", "live-project", ProjectContainers.NameOf(live) })
        {
            Assert.NotNull(await _h.Engine.InspectAsync(name, CancellationToken.None));
        }
    }

    [Fact]
    public async Task Host_folders_of_deleted_isolated_workspaces_and_session_leftovers_of_deleted_projects_go()
    {
        var project = await _h.CreateProjectAsync(isolated: true);
        var metadata = await _h.Projects.RequireAsync(project, CancellationToken.None);
        var deletedHost = Path.Combine(_h.Paths.Directory(project), "hosts", Guid.NewGuid().ToString("D"));
        var liveHost = _h.Paths.HostDirectory(AgentHost.Default(metadata));
        Directory.CreateDirectory(Path.Combine(deletedHost, "run"));
        await File.WriteAllTextAsync(Path.Combine(deletedHost, "run", "agent.log"), "x");
        Directory.CreateDirectory(liveHost);
        var leftover = _h.Paths.Directory(Guid.NewGuid());
        Directory.CreateDirectory(Path.Combine(leftover, "sessions"));
        await File.WriteAllTextAsync(Path.Combine(leftover, "sessions", "gogol_a.json"), "{}");
        // A deleted project's folder with anything besides session files is not ours to judge: it stays.
        var withWorkspace = _h.Paths.Directory(Guid.NewGuid());
        Directory.CreateDirectory(Path.Combine(withWorkspace, "sessions"));
        Directory.CreateDirectory(Path.Combine(withWorkspace, "workspaces", "w"));
        await File.WriteAllTextAsync(Path.Combine(withWorkspace, "workspaces", "w", "work.txt"), "precious");
        foreach (var folder in new[] { deletedHost, liveHost, leftover })
        {
            Directory.SetLastWriteTimeUtc(folder, (Now - TimeSpan.FromDays(1)).UtcDateTime);
        }

        File.SetLastWriteTimeUtc(Path.Combine(leftover, "sessions", "gogol_a.json"), (Now - TimeSpan.FromDays(1)).UtcDateTime);
        Assert.Equal(2, await RunAsync(new StaleRunFilesCleanup(_h.Store, _h.Paths, _h.Locks, _h.Engine)));

        Assert.False(Directory.Exists(deletedHost));
        Assert.False(Directory.Exists(leftover));
        Assert.True(Directory.Exists(liveHost));
        Assert.Equal("precious", await File.ReadAllTextAsync(Path.Combine(withWorkspace, "workspaces", "w", "work.txt")));
    }

    private Task CreateAsync(string name, Guid project, Guid? workspace, BindMount mount, bool running)
    {
        var labels = new Dictionary<string, string> { [ProjectContainers.ManagedLabel] = "true", [ProjectContainers.ProjectLabel] = project.ToString("D") };
        if (workspace is { } id)
        {
            labels[ProjectContainers.WorkspaceLabel] = id.ToString("D");
        }

        return CreateThenAsync();

        async Task CreateThenAsync()
        {
            await _h.Engine.CreateAsync(new ContainerSpec(name, "img", "gogol", labels, [mount], 0, 0, 0, "none", []), CancellationToken.None);
            if (running)
            {
                await _h.Engine.StartAsync(name, CancellationToken.None);
            }
        }
    }
}
