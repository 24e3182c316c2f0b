using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Oubliette.Agents;
using Oubliette.Containers;
using Oubliette.Schedules;
using Oubliette.Testing;

namespace Oubliette.Tests.Integration;

/// <summary>Next-run times computed by the server on its own clock (a <see cref="FakeTimeProvider"/>): on create, update and re-enable, across a DST change.</summary>
public sealed class ScheduleTimingTests : IAsyncLifetime
{
    // Saturday 28 March 2026, noon UTC: Berlin moves its clocks from 02:00 to 03:00 the next night.
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 28, 12, 0, 0, TimeSpan.Zero));
    private TestHome _home = null!;
    private InProcessServer _server = null!;

    public async Task InitializeAsync()
    {
        _home = await TestHome.CreateAsync(ScheduleServerFixture.Config, time: _time);
        _server = await InProcessServer.StartAsync(_home, _time, configureServices: services =>
        {
            services.AddSingleton<IContainerRuntime>(new FakeContainerRuntime());
            services.AddSingleton<IAgentRuntime>(new FakeAgentRuntime());
            services.AddSingleton<IScheduleRunner>(provider => new RecordingScheduleRunner(provider.GetRequiredService<IScheduleRunStore>(), _time));
        });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _home.DisposeAsync();
    }

    private static DateTimeOffset Utc(int month, int day, int hour, int minute) => new(2026, month, day, hour, minute, 0, TimeSpan.Zero);

    [Fact]
    public async Task Next_runs_come_from_the_servers_clock_in_the_schedules_zone_and_move_only_when_the_timing_changes()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var project = (await client.CallAsync("project", new { action = "create", name = "timed" })).Json.GetProperty("project").GetProperty("id").GetGuid();

        var created = await client.CallAsync("schedule", new
        {
            action = "create", name = "berlin-night", cron_expr = "30 2 * * *", time_zone = "Europe/Berlin", prompt = "p", targets = new[] { new { project_id = project } },
        });
        var id = created.Json.GetProperty("schedule").GetProperty("id").GetString();
        var runs = created.Json.GetProperty("next_runs").EnumerateArray().Select(run => run.GetDateTimeOffset()).ToList();

        // 02:30 does not exist on 29 March in Berlin: that run is at the jump (03:00 CEST = 01:00 UTC); then 02:30 CEST.
        Assert.Equal([Utc(3, 29, 1, 0), Utc(3, 30, 0, 30), Utc(3, 31, 0, 30), Utc(4, 1, 0, 30), Utc(4, 2, 0, 30)], runs);
        Assert.Equal(Utc(3, 29, 1, 0), created.Json.GetProperty("schedule").GetProperty("next_run_at").GetDateTimeOffset());
        Assert.Equal(Utc(3, 28, 12, 0), created.Json.GetProperty("schedule").GetProperty("created_at").GetDateTimeOffset());

        // Before the due time (the runner's timer runs on this clock too, so nothing is due yet).
        _time.Advance(TimeSpan.FromHours(1));
        var renamed = await client.CallAsync("schedule", new { action = "update", schedule_id = id, name = "berlin-night-2" });
        var paused = await client.CallAsync("schedule", new { action = "update", schedule_id = id, enabled = false });
        _time.Advance(TimeSpan.FromDays(3));
        var resumed = await client.CallAsync("schedule", new { action = "update", schedule_id = id, enabled = true });

        // A rename leaves the stored due time (the runner may be about to claim it); re-enabling starts from now.
        Assert.Equal(Utc(3, 29, 1, 0), renamed.Json.GetProperty("schedule").GetProperty("next_run_at").GetDateTimeOffset());
        Assert.Equal(Utc(3, 28, 13, 0), renamed.Json.GetProperty("schedule").GetProperty("updated_at").GetDateTimeOffset());
        Assert.False(paused.Json.GetProperty("schedule").TryGetProperty("next_run_at", out _));
        Assert.Equal(Utc(4, 1, 0, 30), resumed.Json.GetProperty("schedule").GetProperty("next_run_at").GetDateTimeOffset());
    }
}
