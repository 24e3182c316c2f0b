using Microsoft.Extensions.Logging;
using Oubliette.Cleanup;
using Oubliette.Testing;

namespace Oubliette.Tests.Cleanup;

/// <summary>The pass: one log line with every kind's count, a counter per kind, a failing kind that stops nothing, the timer, and workspaces left alone.</summary>
public sealed class CleanupServiceTests : IAsyncLifetime
{
    private SessionHarness _h = null!;
    private readonly ListLogger<CleanupService> _logger = new();

    public async Task InitializeAsync() => _h = await SessionHarness.CreateAsync(cleanup: """ "interval_minutes": 5, "retention_minutes": 60 """);

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private CleanupService NewService(params ICleanupTask[] extra) => new(
        [
            new EndedSessionsCleanup(_h.Sessions),
            new ExpiredTokensCleanup(TestHome.OpenTokens(_h.Home.Home, _h.Time).Store),
            new StaleRunFilesCleanup(_h.Store, _h.Paths, _h.Locks, _h.Engine),
            new TempFilesCleanup(_h.Home.Home),
            new OrphanContainersCleanup(_h.Engine, _h.Store, _h.Home.Home),
            new LogFilesCleanup(_h.Home.Home, _h.Config),
            .. extra,
        ],
        _h.Config, _h.Metrics, _h.Time, _logger);

    private double Removed(string kind) => _h.Metrics.CleanupRemoved.WithLabels(kind).Value;

    [Fact]
    public async Task A_pass_logs_one_information_line_with_every_kinds_count_and_adds_them_to_the_counter()
    {
        var project = await _h.CreateProjectAsync();
        var session = await _h.IdleSessionAsync(project);
        await _h.Sessions.EndAsync(session, "test", CancellationToken.None);
        var oldLog = Path.Combine(_h.Home.Home.LogsDirectory, $"oubliette-{_h.Time.GetUtcNow().AddDays(-30):yyyyMMdd}.log");
        await File.WriteAllTextAsync(oldLog, "old\n");
        _h.Time.Advance(TimeSpan.FromMinutes(60));

        using var service = NewService();
        var counts = await service.RunOnceAsync(CancellationToken.None);

        Assert.Equal(1, counts["sessions"]);
        Assert.Equal(1, counts["log_files"]);
        var line = Assert.Single(_logger.Lines);
        Assert.Equal(LogLevel.Information, line.Level);
        Assert.Equal("cleanup pass removed sessions=1, tokens=0, run_files=0, temp_files=0, containers=0, log_files=1 (retention 60 min)", line.Text);
        Assert.Equal(1, Removed("sessions"));
        Assert.Equal(1, Removed("log_files"));
        Assert.Equal(0, Removed("tokens"));
    }

    [Fact]
    public async Task A_failing_kind_is_logged_and_the_other_kinds_still_run()
    {
        var project = await _h.CreateProjectAsync();
        var session = await _h.IdleSessionAsync(project);
        await _h.Sessions.EndAsync(session, "test", CancellationToken.None);
        _h.Time.Advance(TimeSpan.FromMinutes(60));
        _h.Engine.Failure = new IOException("engine is down");

        using var service = NewService();
        var counts = await service.RunOnceAsync(CancellationToken.None);

        Assert.Equal(0, counts["containers"]);
        Assert.Equal(1, counts["sessions"]);
        Assert.Contains(_logger.Lines, line => line is { Level: LogLevel.Warning, Text: "cleanup of containers failed; it is tried again at the next pass" });
        Assert.Contains(_logger.Lines, line => line.Text.StartsWith("cleanup pass removed sessions=1,", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_first_pass_runs_one_interval_after_start_on_the_servers_clock()
    {
        using var service = NewService();
        await service.StartAsync(CancellationToken.None);
        try
        {
            _h.Time.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromTicks(1));
            Assert.Empty(_logger.Lines);

            _h.Time.Advance(TimeSpan.FromTicks(1));

            Assert.StartsWith("cleanup pass removed sessions=0", await _logger.WhenLoggedAsync("cleanup pass"), StringComparison.Ordinal);
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Nothing_in_a_workspace_is_ever_removed_not_even_files_named_like_ours_nor_what_an_agents_links_point_at()
    {
        var project = await _h.CreateProjectAsync();
        var metadata = await _h.Projects.RequireAsync(project, CancellationToken.None);
        var workspace = _h.Paths.Workspace(project, metadata.DefaultWorkspaceId);
        var outside = Path.Combine(_h.Home.Root, "outside");
        Directory.CreateDirectory(outside);
        var precious = Path.Combine(outside, $"precious.{Guid.NewGuid():N}.tmp");
        await File.WriteAllTextAsync(precious, "keep me");
        var hex = Guid.NewGuid().ToString("N");
        var planted = new[]
        {
            $"metadata.json.{hex}.tmp", "oubliette.pid.1.tmp", "oubliette-20000101.log", "sessions/gogol_old.json", $"sessions/gogol_old.json.{hex}.tmp",
            $"agent-config/.opencode.json.{hex}.tmp", $"hosts/{Guid.NewGuid():D}/run/agent.log", "notes.md",
        }.Select(name => Path.Combine(workspace, name)).ToList();
        foreach (var file in planted)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            await File.WriteAllTextAsync(file, "agent work");
        }

        // Links an agent could plant, in its workspace and in its own run folder, pointing out of them.
        var links = new Dictionary<string, string>
        {
            [Path.Combine(workspace, "escape")] = outside,
            [Path.Combine(workspace, $"link.{hex}.tmp")] = precious,
            [Path.Combine(_h.Paths.RunDirectory(project), $"agent.{hex}.tmp")] = precious,
            [Path.Combine(_h.Paths.RunDirectory(project), "logs")] = outside,
        };
        foreach (var (link, target) in links)
        {
            File.CreateSymbolicLink(link, target);
        }

        var old = (_h.Time.GetUtcNow() - TimeSpan.FromDays(400)).UtcDateTime;
        foreach (var entry in Directory.EnumerateFileSystemEntries(workspace, "*", SearchOption.AllDirectories).Where(entry => !links.ContainsKey(entry)).Append(precious))
        {
            if (Directory.Exists(entry))
            {
                Directory.SetLastWriteTimeUtc(entry, old);
            }
            else
            {
                File.SetLastWriteTimeUtc(entry, old);
            }
        }

        _h.Time.Advance(TimeSpan.FromDays(365));
        using var service = NewService();
        var counts = await service.RunOnceAsync(CancellationToken.None);

        Assert.All(planted, file => Assert.Equal("agent work", File.ReadAllText(file)));
        Assert.All(links.Keys, link => Assert.NotNull(new FileInfo(link).LinkTarget));
        Assert.Equal("keep me", await File.ReadAllTextAsync(precious));
        Assert.Equal(0, counts.Values.Sum());
        Assert.True(Directory.Exists(Path.Combine(workspace, ".git")), "the workspace's git repository is untouched");
        Assert.Equal(6, counts.Count);
    }
}
