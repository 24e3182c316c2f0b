using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ModelContextProtocol.Client;
using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>
/// One server process (the kill -9 test needs a real process), one project and one scripted model for the whole class
/// (e2e time is precious). Started lazily by the first test, because an xUnit 2 class fixture cannot take the
/// collection's <see cref="DockerEnvironment"/>. Missed runs are recorded past a 1 s grace, so that a short kill shows them.
/// </summary>
public sealed class ScheduleServer : IAsyncLifetime
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ScheduleHost? _host;

    public async Task<ScheduleHost> GetAsync(DockerEnvironment docker)
    {
        await _gate.WaitAsync();
        try
        {
            if (_host is null)
            {
                var model = await ScriptedModelServer.StartAsync();
                var config = SessionFixture.Config(model.BaseUrl);
                config = config[..config.LastIndexOf('}')] + "\"schedules\": { \"missed_grace_seconds\": 1 },\n}";
                var process = await ServerProcess.StartAsync(docker, config, model);
                _host = new ScheduleHost(process, await process.CreateProjectAsync("schedules"));
            }

            return _host;
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // xUnit 2 disposes a class fixture through IAsyncLifetime (IAsyncDisposable alone is never called).
    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.Process.DisposeAsync();
        }

        _gate.Dispose();
    }
}

/// <summary>The class's server, its project and what to read when a test fails.</summary>
public sealed record ScheduleHost(ServerProcess Process, Guid ProjectId)
{
    public ScriptedModelServer Model => Process.Model;

    public McpClient Admin => Process.Admin;

    /// <summary>The agent's log, the model's requests, the server's console.</summary>
    public string Diagnostics()
    {
        var agentLog = Path.Combine(Process.Home.Home.ProjectsDirectory, ProjectId.ToString("D"), "run", "agent.log");
        var agent = File.Exists(agentLog) ? string.Join('\n', File.ReadLines(agentLog).TakeLast(40)) : $"({agentLog} missing)";
        return $"--- agent.log\n{agent}\n--- model requests: {Model.Requests.Count} ({Model.AgentRequests.Count} agent)\n--- server console\n{Process.LogTail()}";
    }
}

/// <summary>
/// Issue 14's end-to-end acceptance: schedules run the real agent against the scripted model. Each test uses its own
/// schedule and its own conversation marker (the prompt), so the shared server and model do not mix their runs; every
/// schedule is left disabled or far from its next due time, so a kill -9 of the server in one test leaves the others alone.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class ScheduleTests(DockerEnvironment docker, ScheduleServer server) : IClassFixture<ScheduleServer>, IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private ScheduleHost _fixture = null!;

    public async Task InitializeAsync() => _fixture = await server.GetAsync(docker);

    public Task DisposeAsync() => Task.CompletedTask;

    private string Project => _fixture.ProjectId.ToString("D");

    [Fact]
    public async Task A_seconds_cron_runs_twice_and_the_second_run_resumes_the_pinned_session_which_sees_the_first_turn()
    {
        var marker = "scheduled-resume-" + Guid.NewGuid().ToString("N")[..8];
        _fixture.Model.Conversation(marker, ScriptStep.Reply("first scheduled reply", 120, 30), ScriptStep.Reply("second scheduled reply", 140, 40));

        var created = await CallAsync(_fixture.Admin, new
        {
            action = "create", name = marker, cron_expr = "*/10 * * * * *", prompt = $"{marker}: report the build",
            targets = new[] { new { project_id = Project } },
        });
        var id = created.GetProperty("schedule").GetProperty("id").GetString()!;
        var runs = await WaitForHistoryAsync(id, executions => executions.Count(item => Status(item) == "success") >= 2
            || executions.Any(item => Status(item) is "failed" or "interrupted" or "disabled"), "two successful runs");
        await CallAsync(_fixture.Admin, new { action = "update", schedule_id = id, enabled = false });
        var schedule = (await CallAsync(_fixture.Admin, new { action = "get", schedule_id = id })).GetProperty("schedule");

        var done = runs.Where(item => Status(item) != "skipped").OrderBy(item => item.GetProperty("due_at").GetDateTimeOffset()).ToList();
        var context = $"history: {JsonSerializer.Serialize(runs)}\n{_fixture.Diagnostics()}";
        Assert.True(done.Count >= 2, context);
        var (first, second) = (done[0], done[1]);
        Assert.All(new[] { first, second }, item =>
        {
            Assert.True(Status(item) == "success", context);
            Assert.True(item.GetProperty("trigger").GetString() == "cron", context);
            Assert.True(item.GetProperty("tokens_in").GetInt64() > 0 && item.GetProperty("cost_usd").GetDouble() > 0, context);
        });
        Assert.True(first.GetProperty("output_excerpt").GetString() == "first scheduled reply", context);
        Assert.True(second.GetProperty("output_excerpt").GetString() == "second scheduled reply", context);
        var sessionId = first.GetProperty("session_id").GetString();
        Assert.True(sessionId is not null && sessionId == second.GetProperty("session_id").GetString(), context);
        Assert.True(schedule.GetProperty("targets")[0].GetProperty("pinned_session_id").GetString() == sessionId, context);
        var requests = _fixture.Model.AgentRequests.Where(request => request.AllText.Contains(marker, StringComparison.Ordinal)).ToList();
        Assert.True(requests.Count == 2, context);
        Assert.True(requests[1].AllText.Contains("first scheduled reply", StringComparison.Ordinal), context);
    }

    [Fact]
    public async Task Session_behavior_new_makes_a_new_session_for_every_run()
    {
        var marker = "scheduled-new-" + Guid.NewGuid().ToString("N")[..8];
        _fixture.Model.Conversation(marker, ScriptStep.Reply("a fresh reply", 100, 10));

        var created = await CallAsync(_fixture.Admin, new
        {
            action = "create", name = marker, cron_expr = "0 0 1 1 *", prompt = $"{marker}: start afresh", session_behavior = "new",
            targets = new[] { new { project_id = Project } },
        });
        var id = created.GetProperty("schedule").GetProperty("id").GetString()!;
        await CallAsync(_fixture.Admin, new { action = "trigger", schedule_id = id });
        await WaitForHistoryAsync(id, executions => executions.Count(item => Status(item) != "running") >= 1, "the first run");
        await CallAsync(_fixture.Admin, new { action = "trigger", schedule_id = id });
        var runs = await WaitForHistoryAsync(id, executions => executions.Count(item => Status(item) != "running") >= 2, "the second run");

        var context = $"history: {JsonSerializer.Serialize(runs)}\n{_fixture.Diagnostics()}";
        Assert.True(runs.Length == 2 && runs.All(item => Status(item) == "success"), context);
        var sessions = runs.Select(item => item.GetProperty("session_id").GetString()).Distinct().ToList();
        Assert.True(sessions.Count == 2 && sessions.All(session => session is not null), context);
        Assert.True(_fixture.Model.AgentRequests.Count(request => request.AllText.Contains(marker, StringComparison.Ordinal)) == 2, context);
    }

    [Fact]
    public async Task Trigger_by_a_project_token_returns_at_once_with_the_execution_ids_and_the_manual_run_happens()
    {
        var marker = "scheduled-trigger-" + Guid.NewGuid().ToString("N")[..8];
        _fixture.Model.Conversation(marker, ScriptStep.Reply("triggered reply", 90, 9));
        // Made by a token of the project alone: a schedule runs with its creator's rights, which suffice here.
        var token = await CallAsync(_fixture.Admin, "token", new { action = "create", name = marker, scope = $"project:{Project}" });
        await using var member = await _fixture.Process.ConnectAsync(token.GetProperty("secret").GetString()!);
        var created = await CallAsync(member, new
        {
            action = "create", name = marker, cron_expr = "0 0 1 1 *", prompt = $"{marker}: run now",
            targets = new[] { new { project_id = Project } },
        });
        var id = created.GetProperty("schedule").GetProperty("id").GetString()!;

        var started = Stopwatch.StartNew();
        var triggered = await CallAsync(member, new { action = "trigger", schedule_id = id });
        var answeredIn = started.Elapsed;
        var runs = await WaitForHistoryAsync(id, executions => executions.Any(item => Status(item) != "running"), "the triggered run");

        var context = $"answered in {answeredIn}; trigger: {triggered}; history: {JsonSerializer.Serialize(runs)}\n{_fixture.Diagnostics()}";
        var executionIds = triggered.GetProperty("execution_ids").EnumerateArray().Select(item => item.GetString()).ToList();
        Assert.True(executionIds.Count == 1, context);
        // The turn itself takes seconds (agent start, model call); the trigger answers before it.
        Assert.True(answeredIn < TimeSpan.FromSeconds(2), context);
        var run = Assert.Single(runs);
        Assert.True(run.GetProperty("id").GetString() == executionIds[0], context);
        Assert.True(run.GetProperty("trigger").GetString() == "manual" && Status(run) == "success", context);
        Assert.True(run.GetProperty("output_excerpt").GetString() == "triggered reply", context);
        Assert.True(run.GetProperty("tokens_out").GetInt64() > 0 && run.GetProperty("cost_usd").GetDouble() > 0, context);
    }

    [Fact]
    public async Task Revoking_the_creator_token_disables_the_schedule_at_its_next_run_and_spawns_nothing()
    {
        var marker = "scheduled-revoked-" + Guid.NewGuid().ToString("N")[..8];
        _fixture.Model.Conversation(marker, ScriptStep.Reply("must never be sent"));
        var token = await CallAsync(_fixture.Admin, "token", new { action = "create", name = marker, scope = $"project:{Project}" });
        var tokenId = token.GetProperty("token").GetProperty("id").GetString()!;
        await using var creator = await _fixture.Process.ConnectAsync(token.GetProperty("secret").GetString()!);
        var other = Guid.NewGuid().ToString("D");
        var foreign = await creator.CallAsync("schedule", new
        {
            action = "create", name = marker + "-foreign", cron_expr = "0 0 1 1 *", prompt = "elsewhere", targets = new[] { new { project_id = other } },
        });
        // Due a few seconds from now: enough to revoke the token first, soon enough to keep the test short.
        var due = DateTimeOffset.UtcNow.AddSeconds(6);
        var created = await CallAsync(creator, new
        {
            action = "create", name = marker, prompt = $"{marker}: never runs", targets = new[] { new { project_id = Project } },
            cron_expr = string.Create(CultureInfo.InvariantCulture, $"{due.Second} {due.Minute} {due.Hour} * * *"),
        });
        var id = created.GetProperty("schedule").GetProperty("id").GetString()!;
        var sessionsBefore = await SessionIdsAsync();
        var requestsBefore = _fixture.Model.Requests.Count;
        await CallAsync(_fixture.Admin, "token", new { action = "revoke", token_id = tokenId });

        var runs = await WaitForHistoryAsync(id, executions => executions.Length > 0 && executions.All(item => Status(item) != "running"), "the disabled run");
        var schedule = (await CallAsync(_fixture.Admin, new { action = "get", schedule_id = id })).GetProperty("schedule");
        var sessionsAfter = await SessionIdsAsync();

        var context = $"foreign: {foreign.Text}; history: {JsonSerializer.Serialize(runs)}; schedule: {schedule}\n{_fixture.Diagnostics()}";
        Assert.True(foreign.IsError, context);
        Assert.True(foreign.Text.Contains(other, StringComparison.Ordinal), context);
        var run = Assert.Single(runs);
        Assert.True(Status(run) == "disabled" && run.GetProperty("trigger").GetString() == "cron", context);
        Assert.True(run.GetProperty("reason").GetString()!.Contains("revoked", StringComparison.Ordinal), context);
        Assert.False(run.TryGetProperty("session_id", out _), context);
        Assert.False(schedule.GetProperty("enabled").GetBoolean(), context);
        Assert.True(schedule.GetProperty("disabled_reason").GetString()!.Contains(tokenId, StringComparison.Ordinal), context);
        Assert.True(sessionsBefore.SetEquals(sessionsAfter), context);
        Assert.True(_fixture.Model.Requests.Count == requestsBefore, context);
        Assert.DoesNotContain(_fixture.Model.Requests, request => request.AllText.Contains(marker, StringComparison.Ordinal));
    }

    [Fact]
    public async Task After_a_kill_9_spanning_several_due_times_the_missed_run_is_recorded_once_and_runs_go_on_without_a_burst()
    {
        var (process, model) = (_fixture.Process, _fixture.Model);
        var project = _fixture.ProjectId;
        var marker = "scheduled-restart-" + Guid.NewGuid().ToString("N")[..8];
        model.Conversation(marker, [.. Enumerable.Range(1, 12).Select(turn => ScriptStep.Reply($"restart reply {turn}", 50, 5))]);
        string Context(JsonElement[] runs) =>
            $"history: {JsonSerializer.Serialize(runs)}\n{_fixture.Diagnostics()}";

        var created = await process.Admin.CallAsync("schedule", new
        {
            action = "create", name = marker, cron_expr = "*/5 * * * * *", prompt = $"{marker}: keep going", targets = new[] { new { project_id = project.ToString("D") } },
        });
        Assert.False(created.IsError, created.Text);
        var id = created.Json.GetProperty("schedule").GetProperty("id").GetString()!;
        async Task<JsonElement[]> HistoryAsync()
        {
            var history = await process.Admin.CallAsync("schedule", new { action = "history", schedule_id = id, limit = 100 });
            Assert.False(history.IsError, history.Text);
            return [.. history.Json.GetProperty("executions").EnumerateArray().Select(item => item.Clone())];
        }

        async Task<JsonElement[]> UntilAsync(Func<JsonElement[], bool> done, string what)
        {
            var clock = Stopwatch.StartNew();
            var runs = await HistoryAsync();
            while (!done(runs))
            {
                Assert.True(clock.Elapsed < Deadline, $"{what} did not happen in {Deadline}: {Context(runs)}");
                await Task.Delay(250);
                runs = await HistoryAsync();
            }

            return runs;
        }

        // Killed right after a run has finished: the next is then usually a few seconds away.
        await UntilAsync(runs => runs.Any(item => Status(item) == "success"), "a first run");
        var killedAt = DateTimeOffset.UtcNow;
        var downtime = TimeSpan.FromSeconds(12);
        await process.KillAndRestartAsync(downtime);
        var launchedAt = DateTimeOffset.UtcNow;
        var after = await UntilAsync(runs => runs.Any(item => Status(item) == "success" && item.GetProperty("due_at").GetDateTimeOffset() > launchedAt), "a run after the restart");
        await process.Admin.CallAsync("schedule", new { action = "update", schedule_id = id, enabled = false });

        var context = Context(after);
        var missed = after.Where(item => item.TryGetProperty("reason", out var reason) && reason.GetString() == "missed").ToList();
        Assert.True(missed.Count == 1 && Status(missed[0]) == "skipped", context);
        var missedDue = missed[0].GetProperty("due_at").GetDateTimeOffset();
        Assert.True(missedDue > killedAt && missedDue < launchedAt, context);
        // No burst: besides the one missed record, nothing due while no server ran is recorded. (Not up to launchedAt: the new
        // process may be slow to answer on a loaded machine while its runner already runs the next due time.)
        var duringDowntime = after.Where(item => item.GetProperty("due_at").GetDateTimeOffset() is var due && due > killedAt && due < killedAt + downtime).ToList();
        Assert.True(duringDowntime.Count == 1, context);
        Assert.True(after.Where(item => item.GetProperty("due_at").GetDateTimeOffset() > killedAt && item.GetProperty("id").GetString() != missed[0].GetProperty("id").GetString())
            .All(item => Status(item) is "success" or "running"), context);
        // A run still in flight at the kill (a slow first start) is recorded interrupted at the restart; nothing after the kill is.
        Assert.True(after.Where(item => Status(item) == "interrupted").All(item => item.GetProperty("due_at").GetDateTimeOffset() < killedAt), context);
    }

    private static string Status(JsonElement execution) => execution.GetProperty("status").GetString()!;

    private Task<JsonElement> CallAsync(McpClient client, object arguments) => CallAsync(client, "schedule", arguments);

    private async Task<JsonElement> CallAsync(McpClient client, string tool, object arguments)
    {
        var outcome = await client.CallAsync(tool, arguments);
        Assert.False(outcome.IsError, $"{tool} {JsonSerializer.Serialize(arguments)}: {outcome.Text}\n{_fixture.Diagnostics()}");
        return outcome.Json;
    }

    private async Task<HashSet<string>> SessionIdsAsync()
    {
        var sessions = await CallAsync(_fixture.Admin, "session", new { action = "list", project_id = Project });
        return [.. sessions.GetProperty("sessions").EnumerateArray().Select(item => item.GetProperty("session_id").GetString()!)];
    }

    /// <summary>Polls the history (newest first) every 250 ms until <paramref name="done"/> holds; fails with diagnostics after the deadline.</summary>
    private async Task<JsonElement[]> WaitForHistoryAsync(string scheduleId, Func<JsonElement[], bool> done, string what)
    {
        var clock = Stopwatch.StartNew();
        JsonElement[] executions = [];
        while (clock.Elapsed < Deadline)
        {
            var history = await CallAsync(_fixture.Admin, new { action = "history", schedule_id = scheduleId });
            executions = [.. history.GetProperty("executions").EnumerateArray().Select(item => item.Clone())];
            if (done(executions))
            {
                return executions;
            }

            await Task.Delay(250);
        }

        Assert.Fail($"{what} did not happen in {Deadline}: {JsonSerializer.Serialize(executions)}\n{_fixture.Diagnostics()}");
        return executions;
    }
}
