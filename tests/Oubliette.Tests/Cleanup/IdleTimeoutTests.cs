using Microsoft.Extensions.Logging.Abstractions;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Sessions;

namespace Oubliette.Tests.Cleanup;

/// <summary>defaults.limits.session_idle_timeout_minutes on a fake clock: when a session times out, what it frees, how it resumes.</summary>
public sealed class IdleTimeoutTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(30);
    private SessionHarness _h = null!;

    public async Task InitializeAsync() =>
        _h = await SessionHarness.CreateAsync(limits: """ "session_idle_timeout_minutes": 30, "max_active_sessions_per_project": 1 """);

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task An_idle_session_times_out_at_exactly_the_threshold_and_not_a_tick_before()
    {
        var project = await _h.CreateProjectAsync();
        var session = await _h.IdleSessionAsync(project);

        _h.Time.Advance(Timeout - TimeSpan.FromTicks(1));
        Assert.Equal(0, _h.Sessions.TimeOutIdle());
        Assert.Equal(SessionStatus.Idle, _h.Sessions.Get(session).Status);

        _h.Time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(1, _h.Sessions.TimeOutIdle());

        var metadata = _h.Sessions.Get(session);
        Assert.Equal(SessionStatus.TimedOut, metadata.Status);
        Assert.False(metadata.Ended);
        Assert.Equal(_h.Time.GetUtcNow(), metadata.UpdatedAt);
        Assert.Contains(_h.Sessions.Events(session, -1, null, null).Page.Events, item => item is { Type: "status", Status: SessionStatus.TimedOut });
        // Once is enough: a timed-out session is not timed out again.
        Assert.Equal(0, _h.Sessions.TimeOutIdle());
    }

    [Fact]
    public async Task A_running_turn_never_times_out()
    {
        var project = await _h.CreateProjectAsync();
        var session = await _h.RunningSessionAsync(project);

        _h.Time.Advance(TimeSpan.FromDays(3));

        Assert.Equal(0, _h.Sessions.TimeOutIdle());
        Assert.Equal(SessionStatus.Running, _h.Sessions.Get(session).Status);
        Assert.Equal(1, _h.ActiveGauge(project));
    }

    [Fact]
    public async Task Idle_time_counts_from_the_end_of_the_last_turn()
    {
        var project = await _h.CreateProjectAsync();
        var session = await _h.IdleSessionAsync(project);
        _h.Time.Advance(TimeSpan.FromMinutes(20));
        await _h.Sessions.MessageAsync(session, "again", null, CancellationToken.None);
        _h.Time.Advance(TimeSpan.FromMinutes(20));
        _h.FinishTurn(project, session);

        _h.Time.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal(0, _h.Sessions.TimeOutIdle());
        _h.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, _h.Sessions.TimeOutIdle());
    }

    [Fact]
    public async Task A_timed_out_session_frees_its_slot_for_a_new_spawn_and_leaves_the_active_gauge()
    {
        var project = await _h.CreateProjectAsync();
        var first = await _h.IdleSessionAsync(project);
        var refused = await Assert.ThrowsAsync<LimitReachedException>(() => _h.RunningSessionAsync(project, "second"));
        Assert.Contains("max_active_sessions_per_project=1", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, _h.ActiveGauge(project));

        _h.Time.Advance(Timeout);
        _h.Sessions.TimeOutIdle();
        Assert.Equal(0, _h.ActiveGauge(project));

        // A plain spawn (no new_session) does not take the timed-out session back: it starts a new one in the freed slot.
        var spawned = await _h.Sessions.SpawnAsync(new SpawnRequest(project, "second", null, false, false, null), "test", null, CancellationToken.None);
        Assert.False(spawned.Resumed);
        Assert.NotEqual(first, spawned.SessionId);
        Assert.Equal(1, _h.ActiveGauge(project));
        Assert.Equal(SessionStatus.TimedOut, _h.Sessions.Get(first).Status);
    }

    [Fact]
    public async Task A_message_naming_a_timed_out_session_resumes_it_when_a_slot_is_free()
    {
        var project = await _h.CreateProjectAsync();
        var session = await _h.IdleSessionAsync(project);
        _h.Time.Advance(Timeout);
        _h.Sessions.TimeOutIdle();

        var resumed = await _h.Sessions.MessageAsync(session, "back again", null, CancellationToken.None);

        Assert.True(resumed.Resumed);
        Assert.Equal(SessionStatus.Running, resumed.Status);
        Assert.Equal(["first", "back again"], _h.Agent.Prompts);
        Assert.Equal(1, _h.ActiveGauge(project));
        _h.FinishTurn(project, session);
        Assert.Equal(SessionStatus.Idle, _h.Sessions.Get(session).Status);
    }

    [Fact]
    public async Task Resuming_a_timed_out_session_is_refused_when_the_project_has_no_free_slot_and_changes_nothing()
    {
        var project = await _h.CreateProjectAsync();
        var session = await _h.IdleSessionAsync(project);
        _h.Time.Advance(Timeout);
        _h.Sessions.TimeOutIdle();
        await _h.RunningSessionAsync(project, "other");
        var before = _h.Sessions.Get(session);

        var refused = await Assert.ThrowsAsync<LimitReachedException>(() => _h.Sessions.MessageAsync(session, "back", null, CancellationToken.None));

        Assert.Equal(
            $"session {session} timed out and cannot resume: project {project:D} already has 1 active session (max_active_sessions_per_project=1); end one or wait for it to finish",
            refused.Message);
        Assert.Equal(before, _h.Sessions.Get(session));
        Assert.Equal(["first", "other"], _h.Agent.Prompts);
    }

    [Fact]
    public async Task A_timed_out_session_does_not_block_project_delete()
    {
        var project = await _h.CreateProjectAsync();
        await _h.IdleSessionAsync(project);
        var blocked = await Assert.ThrowsAsync<ConflictException>(() => _h.Projects.DeleteAsync(project, false, SessionHarness.Admin, CancellationToken.None));
        Assert.Contains("1 active session;", blocked.Message, StringComparison.Ordinal);

        _h.Time.Advance(Timeout);
        _h.Sessions.TimeOutIdle();
        await _h.Projects.DeleteAsync(project, false, SessionHarness.Admin, CancellationToken.None);

        Assert.Null(await _h.Store.FindAsync(project, CancellationToken.None));
    }

    [Fact]
    public async Task A_session_of_a_deleted_project_times_out_without_bringing_the_projects_folder_back()
    {
        var project = await _h.CreateProjectAsync();
        var session = await _h.IdleSessionAsync(project);
        await _h.SavedAsync(project, session, SessionStatus.Idle);
        await _h.Projects.DeleteAsync(project, true, SessionHarness.Admin, CancellationToken.None);
        Assert.False(Directory.Exists(_h.Paths.Directory(project)));

        _h.Time.Advance(Timeout);
        Assert.Equal(1, _h.Sessions.TimeOutIdle());

        // A save would have made the folder before TimeOutIdle returned (its first step is synchronous).
        Assert.False(Directory.Exists(_h.Paths.Directory(project)));
        Assert.Equal(SessionStatus.TimedOut, _h.Sessions.Get(session).Status);
    }

    [Fact]
    public async Task Wait_returns_when_an_idle_session_times_out()
    {
        var project = await _h.CreateProjectAsync();
        var session = await _h.IdleSessionAsync(project);
        var waiting = _h.Sessions.WaitAsync(session, "completed", 10, CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        _h.Time.Advance(Timeout);
        _h.Sessions.TimeOutIdle();

        var waited = await waiting;
        Assert.True(waited.Reached);
        Assert.Equal(SessionStatus.TimedOut, waited.Status);
    }

    [Fact]
    public async Task The_service_times_sessions_out_on_its_clock()
    {
        var project = await _h.CreateProjectAsync();
        var session = await _h.IdleSessionAsync(project);
        using var service = new SessionIdleTimeoutService(_h.Sessions, _h.Time, NullLogger<SessionIdleTimeoutService>.Instance);
        await service.StartAsync(CancellationToken.None);
        try
        {
            var waiting = _h.Sessions.WaitAsync(session, "completed", 10, CancellationToken.None);
            _h.Time.Advance(Timeout - SessionIdleTimeoutService.CheckInterval);
            Assert.Equal(SessionStatus.Idle, _h.Sessions.Get(session).Status);

            _h.Time.Advance(SessionIdleTimeoutService.CheckInterval);

            Assert.Equal(SessionStatus.TimedOut, (await waiting).Status);
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public void The_key_defaults_to_30_minutes() =>
        Assert.Equal(30, ConfigParser.Parse("{}", "test").Defaults.Limits.SessionIdleTimeoutMinutes);

    [Theory]
    [InlineData(0)]
    [InlineData(10081)]
    public void Out_of_range_timeouts_are_refused_naming_the_key_the_value_and_the_range(int minutes)
    {
        var exception = Assert.Throws<ConfigException>(() =>
            ConfigParser.Parse($$"""{ "defaults": { "limits": { "session_idle_timeout_minutes": {{minutes}} } } }""", "test"));

        Assert.Contains(exception.Errors, error => error.Path == "defaults.limits.session_idle_timeout_minutes"
            && error.Reason.Contains(minutes.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            && error.Reason.Contains("1..10080", StringComparison.Ordinal));
    }
}
