using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using Oubliette.Agents;
using Oubliette.Auth;
using Oubliette.Containers;
using Oubliette.Errors;
using Oubliette.Schedules;
using Oubliette.Testing;

namespace Oubliette.Tests.Integration;

/// <summary>
/// The in-process server with a fake engine, a fake agent and a recording runner as the tool's IScheduleRunner (the real
/// runner still runs in the background; the tests disable any schedule that would come due while they run), two projects (A with a second
/// workspace, and B) and tokens of each scope: one server for the class; each test names its own schedules.
/// </summary>
public sealed class ScheduleServerFixture : IAsyncLifetime
{
    public const string Config = """
        {
          "server": { "address": "127.0.0.1:0" },
          "defaults": { "rate_limit": { "requests_per_second": 1000, "burst": 2000 } },
          "credentials": { "providers": { "credentials": { "scripted": { "provider": "openai-compatible", "api_key": "sk-x", "base_url": "http://127.0.0.1:9/v1" } }, "default": "scripted" } },
          "models": { "models": { "fast": { "model": "m", "provider": "scripted" } }, "defaults": { "session_model": "fast" } },
          "schedules": { "max_per_project": 10000 },
        }
        """;

    public TestHome Home { get; private set; } = null!;
    public InProcessServer Server { get; private set; } = null!;
    public McpClient Admin { get; private set; } = null!;
    public RecordingScheduleRunner Runner => (RecordingScheduleRunner)Server.Server.Services.GetRequiredService<IScheduleRunner>();
    public ScheduleStore Store => Server.Server.Services.GetRequiredService<ScheduleStore>();
    public Guid ProjectA { get; private set; }
    public Guid ProjectB { get; private set; }
    public Guid DefaultWorkspaceA { get; private set; }
    public Guid SecondWorkspaceA { get; private set; }
    public JsonElement OutputSchema { get; private set; }

    public async Task InitializeAsync()
    {
        Home = await TestHome.CreateAsync(Config);
        Server = await InProcessServer.StartAsync(Home, configureServices: services =>
        {
            services.AddSingleton<IContainerRuntime>(new FakeContainerRuntime());
            services.AddSingleton<IAgentRuntime>(new FakeAgentRuntime());
            services.AddSingleton<IScheduleRunner>(provider => new RecordingScheduleRunner(provider.GetRequiredService<IScheduleRunStore>(), TimeProvider.System));
        });
        Admin = await McpTestClient.ConnectAsync(Server.McpEndpoint, Home.AdminSecret);
        var a = (await Admin.CallAsync("project", new { action = "create", name = "sched-a" })).Json.GetProperty("project");
        ProjectA = a.GetProperty("id").GetGuid();
        DefaultWorkspaceA = a.GetProperty("default_workspace_id").GetGuid();
        SecondWorkspaceA = (await Admin.CallAsync("workspace", new { action = "create", project_id = ProjectA })).Json.GetProperty("workspace").GetProperty("id").GetGuid();
        ProjectB = (await Admin.CallAsync("project", new { action = "create", name = "sched-b" })).Json.GetProperty("project").GetProperty("id").GetGuid();
        var tool = (await Admin.ListToolsAsync()).Single(tool => tool.Name == "schedule").ProtocolTool;
        OutputSchema = tool.OutputSchema!.Value;
    }

    public async Task<McpClient> ClientAsync(string scope) => await McpTestClient.ConnectAsync(Server.McpEndpoint, await Home.CreateTokenAsync(scope));

    public async Task DisposeAsync()
    {
        await Admin.DisposeAsync();
        await Server.DisposeAsync();
        await Home.DisposeAsync();
    }
}

/// <summary>The <c>schedule</c> tool through the official MCP client: every action, every bad input, the permission matrix.</summary>
public sealed class ScheduleToolTests(ScheduleServerFixture fixture) : IClassFixture<ScheduleServerFixture>
{
    private McpClient Admin => fixture.Admin;

    private static string Unique(string name) => $"{name}-{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>A call that must succeed, with a result that validates against the tool's outputSchema.</summary>
    private async Task<JsonElement> OkAsync(McpClient client, object arguments)
    {
        var outcome = await client.CallAsync("schedule", arguments);
        Assert.False(outcome.IsError, outcome.Text);
        var errors = SchemaCheck.Errors(fixture.OutputSchema, outcome.Json);
        Assert.True(errors.Count == 0, $"{JsonSerializer.Serialize(arguments)}: {string.Join("\n", errors)}\n{outcome.Json}");
        return outcome.Json;
    }

    private async Task<string> CreateAsync(McpClient client, string name, params object[] targets)
    {
        var created = await OkAsync(client, new { action = "create", name, cron_expr = "0 9 * * *", prompt = "check the build", targets });
        return created.GetProperty("schedule").GetProperty("id").GetString()!;
    }

    private async Task<int> CountAsync() => (await Admin.CallAsync("schedule", new { action = "list" })).Json.GetProperty("schedules").GetArrayLength();

    [Fact]
    public async Task Create_get_list_update_trigger_history_and_delete_return_their_documented_shapes()
    {
        var name = Unique("nightly");
        var wakes = fixture.Runner.Wakes;
        var created = await OkAsync(Admin, new
        {
            action = "create", name, cron_expr = "0 30 2 * * *", time_zone = "Europe/Berlin", prompt = "run the tests", overlap_behavior = "queue",
            session_behavior = "new", model = "fast", autonomy = "low", reasoning = "off",
            targets = new object[] { new { project_id = fixture.ProjectA }, new { project_id = fixture.ProjectB } },
        });
        var schedule = created.GetProperty("schedule");
        var id = schedule.GetProperty("id").GetString()!;

        Assert.Matches("^sch_[0-9a-f]{16}$", id);
        Assert.Equal(name, schedule.GetProperty("name").GetString());
        Assert.Equal("0 30 2 * * *", schedule.GetProperty("cron_expr").GetString());
        Assert.Equal("Europe/Berlin", schedule.GetProperty("time_zone").GetString());
        Assert.Equal("queue", schedule.GetProperty("overlap_behavior").GetString());
        Assert.Equal("new", schedule.GetProperty("session_behavior").GetString());
        Assert.True(schedule.GetProperty("enabled").GetBoolean());
        Assert.StartsWith("tok_", schedule.GetProperty("creator_token_id").GetString(), StringComparison.Ordinal);
        Assert.Equal([fixture.ProjectA, fixture.ProjectB], schedule.GetProperty("targets").EnumerateArray().Select(target => target.GetProperty("project_id").GetGuid()));
        Assert.False(schedule.GetProperty("targets")[0].TryGetProperty("workspace_id", out _));
        var nextRuns = created.GetProperty("next_runs").EnumerateArray().Select(run => run.GetDateTimeOffset()).ToList();
        Assert.Equal(5, nextRuns.Count);
        Assert.Equal(schedule.GetProperty("next_run_at").GetDateTimeOffset(), nextRuns[0]);
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        Assert.All(nextRuns, run => Assert.Equal(new TimeSpan(2, 30, 0), TimeZoneInfo.ConvertTime(run, berlin).TimeOfDay));
        Assert.False(created.TryGetProperty("last_execution", out _));

        var triggered = await OkAsync(Admin, new { action = "trigger", schedule_id = id });
        var executionIds = triggered.GetProperty("execution_ids").EnumerateArray().Select(item => item.GetString()).ToList();
        Assert.Equal(id, triggered.GetProperty("schedule_id").GetString());
        Assert.Equal(2, executionIds.Count);
        Assert.Contains(id, fixture.Runner.Triggered);

        var got = await OkAsync(Admin, new { action = "get", schedule_id = id });
        Assert.Equal(5, got.GetProperty("next_runs").GetArrayLength());
        Assert.Contains(got.GetProperty("last_execution").GetProperty("id").GetString(), executionIds);
        Assert.Equal("running", got.GetProperty("last_execution").GetProperty("status").GetString());

        var history = await OkAsync(Admin, new { action = "history", schedule_id = id });
        Assert.Equal(executionIds.Order(), history.GetProperty("executions").EnumerateArray().Select(execution => execution.GetProperty("id").GetString()).Order());
        var onlyB = await OkAsync(Admin, new { action = "history", schedule_id = id, target = fixture.ProjectB.ToString(), limit = 5 });
        Assert.Equal([fixture.ProjectB], onlyB.GetProperty("executions").EnumerateArray().Select(execution => execution.GetProperty("project_id").GetGuid()));
        Assert.Equal("manual", onlyB.GetProperty("executions")[0].GetProperty("trigger").GetString());

        var listed = await OkAsync(Admin, new { action = "list", project_id = fixture.ProjectB.ToString(), enabled = true });
        Assert.Contains(id, listed.GetProperty("schedules").EnumerateArray().Select(item => item.GetProperty("id").GetString()));

        var disabled = await OkAsync(Admin, new { action = "update", schedule_id = id, enabled = false, prompt = "run the tests again" });
        Assert.False(disabled.GetProperty("schedule").GetProperty("enabled").GetBoolean());
        Assert.False(disabled.GetProperty("schedule").TryGetProperty("next_run_at", out _));
        Assert.Equal(0, disabled.GetProperty("next_runs").GetArrayLength());
        Assert.Equal("run the tests again", disabled.GetProperty("schedule").GetProperty("prompt").GetString());
        var disabledList = await OkAsync(Admin, new { action = "list", enabled = false });
        Assert.Contains(id, disabledList.GetProperty("schedules").EnumerateArray().Select(item => item.GetProperty("id").GetString()));

        var deleted = await OkAsync(Admin, new { action = "delete", schedule_id = id });
        Assert.True(deleted.GetProperty("deleted").GetBoolean());
        Assert.Equal(id, deleted.GetProperty("schedule").GetProperty("id").GetString());
        var after = await Admin.CallAsync("schedule", new { action = "get", schedule_id = id });
        Assert.Equal($"schedule_id '{id}' not found", after.Text);
        Assert.Equal(wakes + 3, fixture.Runner.Wakes);

        var audit = await File.ReadAllLinesAsync(fixture.Home.Home.AuditLog);
        foreach (var action in new[] { "schedule.create", "schedule.trigger", "schedule.update", "schedule.delete" })
        {
            Assert.Contains(audit, line => line.Contains($"\"action\":\"{action}\",\"result\":\"ok\"", StringComparison.Ordinal) && line.Contains(id, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Changing_the_cron_expression_moves_the_next_runs_and_a_prompt_change_does_not()
    {
        var id = await CreateAsync(Admin, Unique("timing"), new { project_id = fixture.ProjectA });
        var before = (await OkAsync(Admin, new { action = "get", schedule_id = id })).GetProperty("schedule").GetProperty("next_run_at").GetDateTimeOffset();

        var prompt = await OkAsync(Admin, new { action = "update", schedule_id = id, prompt = "another prompt" });
        var cron = await OkAsync(Admin, new { action = "update", schedule_id = id, cron_expr = "*/10 * * * * *" });

        Assert.Equal(before, prompt.GetProperty("schedule").GetProperty("next_run_at").GetDateTimeOffset());
        var runs = cron.GetProperty("next_runs").EnumerateArray().Select(run => run.GetDateTimeOffset()).ToList();
        Assert.Equal(TimeSpan.FromSeconds(10), runs[1] - runs[0]);
        Assert.Equal(0, runs[0].Second % 10);
        Assert.True(runs[0] - DateTimeOffset.UtcNow <= TimeSpan.FromSeconds(11));
        // The server's runner would run it every 10 s for the rest of the class.
        await OkAsync(Admin, new { action = "update", schedule_id = id, enabled = false });
    }

    [Fact]
    public async Task Updating_the_targets_keeps_the_pins_of_the_targets_that_stay()
    {
        var id = await CreateAsync(Admin, Unique("pins"), new { project_id = fixture.ProjectA }, new { project_id = fixture.ProjectA, workspace_id = fixture.SecondWorkspaceA });
        await fixture.Store.PinAsync(id, fixture.ProjectA, null, "gogol_20260101_000000_aaaaaaaa", CancellationToken.None);
        await fixture.Store.PinAsync(id, fixture.ProjectA, fixture.SecondWorkspaceA, "gogol_20260101_000000_bbbbbbbb", CancellationToken.None);

        var updated = await OkAsync(Admin, new
        {
            action = "update", schedule_id = id,
            targets = new object[] { new { project_id = fixture.ProjectB }, new { project_id = fixture.ProjectA, workspace_id = fixture.SecondWorkspaceA } },
        });

        var targets = updated.GetProperty("schedule").GetProperty("targets");
        Assert.Equal(2, targets.GetArrayLength());
        Assert.Equal(fixture.ProjectB, targets[0].GetProperty("project_id").GetGuid());
        Assert.False(targets[0].TryGetProperty("pinned_session_id", out _));
        Assert.Equal(fixture.SecondWorkspaceA, targets[1].GetProperty("workspace_id").GetGuid());
        Assert.Equal("gogol_20260101_000000_bbbbbbbb", targets[1].GetProperty("pinned_session_id").GetString());
    }

    [Fact]
    public async Task Project_get_and_list_show_how_many_schedules_target_the_project()
    {
        var project = (await Admin.CallAsync("project", new { action = "create", name = Unique("counted") })).Json.GetProperty("project").GetProperty("id").GetGuid();
        Assert.Equal(0, (await Admin.CallAsync("project", new { action = "get", project_id = project })).Json.GetProperty("project").GetProperty("schedules").GetInt32());

        await CreateAsync(Admin, Unique("count-1"), new { project_id = project });
        await CreateAsync(Admin, Unique("count-2"), new { project_id = project }, new { project_id = fixture.ProjectB });

        Assert.Equal(2, (await Admin.CallAsync("project", new { action = "get", project_id = project })).Json.GetProperty("project").GetProperty("schedules").GetInt32());
        var listed = (await Admin.CallAsync("project", new { action = "list" })).Json.GetProperty("projects").EnumerateArray().Single(item => item.GetProperty("id").GetGuid() == project);
        Assert.Equal(2, listed.GetProperty("schedules").GetInt32());
    }

    public static TheoryData<string, string> BadInputs() => new()
    {
        { """{"action":"create","name":"bad-cron","cron_expr":"0 25 * * *","prompt":"p","targets":[{"project_id":"{A}"}]}""", "cron_expr '0 25 * * *' is not valid: the hour field '25' is wrong; allowed: " },
        { """{"action":"create","name":"bad-cron","cron_expr":"61 0 * * * *","prompt":"p","targets":[{"project_id":"{A}"}]}""", "cron_expr '61 0 * * * *' is not valid: the second field '61' is wrong; allowed: " },
        { """{"action":"create","name":"bad-cron","cron_expr":"* * *","prompt":"p","targets":[{"project_id":"{A}"}]}""", "cron_expr '* * *' has 3 fields (allowed: 5 fields" },
        { """{"action":"create","name":"no-cron","prompt":"p","targets":[{"project_id":"{A}"}]}""", "'cron_expr' is required (5 fields 'minute hour day-of-month month day-of-week', or 6 with a leading seconds field" },
        { """{"action":"create","name":"bad-zone","cron_expr":"0 9 * * *","time_zone":"Europe/Atlantis","prompt":"p","targets":[{"project_id":"{A}"}]}""", "time_zone 'Europe/Atlantis' is not a known IANA time zone" },
        { """{"action":"create","name":"no-targets","cron_expr":"0 9 * * *","prompt":"p","targets":[]}""", "'targets' must name at least one target: [{project_id, workspace_id?}]" },
        { """{"action":"create","name":"no-targets","cron_expr":"0 9 * * *","prompt":"p"}""", "'targets' must name at least one target" },
        { """{"action":"create","name":"bad-target","cron_expr":"0 9 * * *","prompt":"p","targets":[{"project_id":"{A}"},{"project_id":"nope"}]}""", "targets[1].project_id 'nope' is not valid (expected a UUID" },
        { """{"action":"create","name":"bad-target","cron_expr":"0 9 * * *","prompt":"p","targets":[{"workspace_id":"{WA}"}]}""", "'targets[0].project_id' is required" },
        { """{"action":"create","name":"bad-target","cron_expr":"0 9 * * *","prompt":"p","targets":[{"project_id":"00000000-0000-4000-8000-000000000000"}]}""", "targets[0].project_id '00000000-0000-4000-8000-000000000000' not found" },
        { """{"action":"create","name":"bad-target","cron_expr":"0 9 * * *","prompt":"p","targets":[{"project_id":"{A}","workspace_id":"00000000-0000-4000-8000-000000000001"}]}""", "targets[0].workspace_id '00000000-0000-4000-8000-000000000001' not found in project '{A}'" },
        { """{"action":"create","name":"bad-target","cron_expr":"0 9 * * *","prompt":"p","targets":[{"project_id":"{B}"},{"project_id":"{B}"}]}""", "targets[1] repeats targets[0] (project {B}, default workspace); each target must be different" },
        { """{"action":"create","name":"bad-target","cron_expr":"0 9 * * *","prompt":"p","targets":[{"project_id":"{A}"},{"project_id":"{A}","workspace_id":"{WA0}"}]}""", "targets[1] repeats targets[0] (project {A}, workspace {WA0})" },
        { """{"action":"create","name":"bad-target","cron_expr":"0 9 * * *","prompt":"p","targets":[{"project_id":"{A}","branch":"main"}]}""", "schedule: 'targets[0]' has an unknown field 'branch' (allowed: project_id, workspace_id)" },
        { """{"action":"create","name":"bad-target","cron_expr":"0 9 * * *","prompt":"p","targets":[{"project_id":7}]}""", "schedule: 'targets[0].project_id' must be a string, not the number 7" },
        { """{"action":"create","name":"bad-target","cron_expr":"0 9 * * *","prompt":"p","targets":["{A}"]}""", "schedule: 'targets[0]' must be an object {project_id, workspace_id}, not the string" },
        { """{"action":"create","name":"bad-target","cron_expr":"0 9 * * *","prompt":"p","targets":{"project_id":"{A}"}}""", "schedule: 'targets' must be an array, not an object" },
        { """{"action":"create","name":"bad-overlap","cron_expr":"0 9 * * *","prompt":"p","overlap_behavior":"drop","targets":[{"project_id":"{A}"}]}""", "overlap_behavior 'drop' is not valid (allowed: skip, queue, parallel)" },
        { """{"action":"create","name":"bad-overlap","cron_expr":"0 9 * * *","prompt":"p","overlap_behavior":"Skip","targets":[{"project_id":"{A}"}]}""", "overlap_behavior 'Skip' is not valid (allowed: skip, queue, parallel)" },
        { """{"action":"create","name":"bad-session","cron_expr":"0 9 * * *","prompt":"p","session_behavior":"fork","targets":[{"project_id":"{A}"}]}""", "session_behavior 'fork' is not valid (allowed: resume, new)" },
        { """{"action":"create","name":"bad-model","cron_expr":"0 9 * * *","prompt":"p","model":"gpt-99","targets":[{"project_id":"{A}"}]}""", "model 'gpt-99' is not configured (configured: fast)" },
        { """{"action":"create","name":"bad-autonomy","cron_expr":"0 9 * * *","prompt":"p","autonomy":"total","targets":[{"project_id":"{A}"}]}""", "autonomy 'total' is not valid (allowed: off, low, medium, high)" },
        { """{"action":"create","name":"bad-reasoning","cron_expr":"0 9 * * *","prompt":"p","reasoning":"deep","targets":[{"project_id":"{A}"}]}""", "reasoning 'deep' is not valid (allowed: off, low, medium, high)" },
        { """{"action":"create","name":"no-prompt","cron_expr":"0 9 * * *","prompt":"  ","targets":[{"project_id":"{A}"}]}""", "'prompt' is required and must not be empty" },
        { """{"action":"create","cron_expr":"0 9 * * *","prompt":"p","targets":[{"project_id":"{A}"}]}""", "'name' is required (1-64 characters" },
        { """{"action":"create","name":"../etc","cron_expr":"0 9 * * *","prompt":"p","targets":[{"project_id":"{A}"}]}""", "name '../etc' is not valid (1-64 characters: letters, digits, space, '.', '_', '-'; starting with a letter or digit)" },
        { """{"action":"create","name":"{TAKEN}","cron_expr":"0 9 * * *","prompt":"p","targets":[{"project_id":"{A}"}]}""", "a schedule named '{TAKEN}' already exists; names are unique" },
        { """{"action":"create","name":"typed","cron_expr":"0 9 * * *","prompt":"p","enabled":"yes","targets":[{"project_id":"{A}"}]}""", "schedule: 'enabled' must be a boolean, not the string \"yes\"" },
        { """{"action":"create","name":"typed","cron_expr":"0 9 * * *","prompt":"p","colour":"red","targets":[{"project_id":"{A}"}]}""", "schedule: unknown argument 'colour' (allowed: action, schedule_id, name, cron_expr, prompt, targets, enabled, overlap_behavior, session_behavior, time_zone, model, autonomy, reasoning, project_id, limit, target)" },
        { """{"action":"pause"}""", "schedule: action 'pause' is not valid (allowed: create, update, delete, trigger, get, list, history)" },
        { """{}""", "schedule: 'action' is required (allowed: create, update, delete, trigger, get, list, history)" },
        { """{"action":"update","schedule_id":"{TAKEN_ID}","cron_expr":"0 0 31 2 *"}""", "cron_expr '0 0 31 2 *' never matches a date" },
        { """{"action":"update","schedule_id":"{TAKEN_ID}","targets":[]}""", "'targets' must name at least one target" },
        { """{"action":"update","schedule_id":"{TAKEN_ID}","name":"{OTHER}"}""", "a schedule named '{OTHER}' already exists; names are unique" },
        { """{"action":"update","schedule_id":"{TAKEN_ID}","session_behavior":"RESUME"}""", "session_behavior 'RESUME' is not valid (allowed: resume, new)" },
        { """{"action":"update","schedule_id":"sch_0000000000000000","prompt":"p"}""", "schedule_id 'sch_0000000000000000' not found" },
        { """{"action":"update","prompt":"p"}""", "'schedule_id' is required" },
        { """{"action":"get","schedule_id":"sch_nothere"}""", "schedule_id 'sch_nothere' not found" },
        { """{"action":"delete","schedule_id":"sch_nothere"}""", "schedule_id 'sch_nothere' not found" },
        { """{"action":"trigger","schedule_id":"sch_nothere"}""", "schedule_id 'sch_nothere' not found" },
        { """{"action":"history","schedule_id":"sch_nothere"}""", "schedule_id 'sch_nothere' not found" },
        { """{"action":"history","schedule_id":"{TAKEN_ID}","limit":0}""", "limit 0 is out of range (1..1000)" },
        { """{"action":"history","schedule_id":"{TAKEN_ID}","limit":1001}""", "limit 1001 is out of range (1..1000)" },
        { """{"action":"history","schedule_id":"{TAKEN_ID}","limit":"ten"}""", "schedule: 'limit' must be an integer, not the string \"ten\"" },
        { """{"action":"history","schedule_id":"{TAKEN_ID}","target":"../x"}""", "target '../x' is not valid (expected a UUID" },
        { """{"action":"list","project_id":"nope"}""", "project_id 'nope' is not valid (expected a UUID" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Bad_input_is_refused_naming_the_field_and_value_and_changes_nothing(string arguments, string expected)
    {
        var taken = Unique("taken");
        var other = Unique("other");
        var takenId = await CreateAsync(Admin, taken, new { project_id = fixture.ProjectA });
        await CreateAsync(Admin, other, new { project_id = fixture.ProjectA });
        string Fill(string text) => text
            .Replace("{A}", fixture.ProjectA.ToString(), StringComparison.Ordinal).Replace("{B}", fixture.ProjectB.ToString(), StringComparison.Ordinal)
            .Replace("{WA0}", fixture.DefaultWorkspaceA.ToString(), StringComparison.Ordinal).Replace("{WA}", fixture.SecondWorkspaceA.ToString(), StringComparison.Ordinal)
            .Replace("{TAKEN_ID}", takenId, StringComparison.Ordinal).Replace("{TAKEN}", taken, StringComparison.Ordinal).Replace("{OTHER}", other, StringComparison.Ordinal);
        var before = (await OkAsync(Admin, new { action = "list" })).GetRawText();
        var wakes = fixture.Runner.Wakes;
        var triggered = fixture.Runner.Triggered.Count;

        var outcome = await Admin.CallAsync("schedule", JsonDocument.Parse(Fill(arguments)).RootElement);

        Assert.True(outcome.IsError, outcome.Text);
        Assert.StartsWith(Fill(expected), outcome.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", outcome.Text, StringComparison.Ordinal);
        Assert.Equal(before, (await OkAsync(Admin, new { action = "list" })).GetRawText());
        Assert.Equal(wakes, fixture.Runner.Wakes);
        Assert.Equal(triggered, fixture.Runner.Triggered.Count);
    }

    [Fact]
    public async Task A_project_token_changes_only_schedules_whose_every_target_it_may_write()
    {
        await using var tokenA = await fixture.ClientAsync($"project:{fixture.ProjectA}");
        await using var tokenB = await fixture.ClientAsync($"project:{fixture.ProjectB}");
        var before = await CountAsync();

        var ownId = await CreateAsync(tokenA, Unique("own-a"), new { project_id = fixture.ProjectA });
        var intoB = await tokenA.CallAsync("schedule", new { action = "create", name = Unique("into-b"), cron_expr = "0 9 * * *", prompt = "p", targets = new object[] { new { project_id = fixture.ProjectB } } });
        var both = await tokenA.CallAsync("schedule", new
        {
            action = "create", name = Unique("both"), cron_expr = "0 9 * * *", prompt = "p",
            targets = new object[] { new { project_id = fixture.ProjectA }, new { project_id = fixture.ProjectB } },
        });
        var sharedId = await CreateAsync(Admin, Unique("shared"), new { project_id = fixture.ProjectA }, new { project_id = fixture.ProjectB });
        var bOnlyId = await CreateAsync(Admin, Unique("b-only"), new { project_id = fixture.ProjectB });

        var forbidden = $"forbidden: 'schedule.create' on project {fixture.ProjectB} is not allowed for this token's scope 'project:{fixture.ProjectA}'";
        Assert.True(intoB.IsError);
        Assert.Equal(forbidden, intoB.Text);
        Assert.True(both.IsError);
        Assert.Equal(forbidden, both.Text);
        Assert.Equal(before + 3, await CountAsync());

        // Another project's (or a shared) schedule: no change, no trigger, no read of the whole; its own project's runs are readable.
        foreach (var (arguments, action) in new (object, string)[]
        {
            (new { action = "update", schedule_id = sharedId, prompt = "hijack" }, "update"),
            (new { action = "delete", schedule_id = sharedId }, "delete"),
            (new { action = "trigger", schedule_id = sharedId }, "trigger"),
            (new { action = "get", schedule_id = sharedId }, "get"),
            (new { action = "history", schedule_id = sharedId }, "history"),
        })
        {
            var refused = await tokenA.CallAsync("schedule", arguments);
            Assert.True(refused.IsError, action);
            Assert.Equal($"forbidden: 'schedule.{action}' on project {fixture.ProjectB} is not allowed for this token's scope 'project:{fixture.ProjectA}'", refused.Text);
        }

        // A schedule none of whose targets it may read does not exist for it: no id, no target named.
        foreach (var action in new[] { "update", "delete", "trigger", "get", "history" })
        {
            var hidden = await tokenA.CallAsync("schedule", new { action, schedule_id = bOnlyId });
            Assert.True(hidden.IsError, action);
            Assert.Equal($"schedule_id '{bOnlyId}' not found", hidden.Text);
        }

        var ownRuns = await OkAsync(tokenA, new { action = "history", schedule_id = sharedId, target = fixture.ProjectA.ToString() });
        Assert.Equal(0, ownRuns.GetProperty("executions").GetArrayLength());
        var addA = await tokenB.CallAsync("schedule", new { action = "update", schedule_id = bOnlyId, targets = new object[] { new { project_id = fixture.ProjectA } } });
        Assert.Equal($"forbidden: 'schedule.update' on project {fixture.ProjectA} is not allowed for this token's scope 'project:{fixture.ProjectB}'", addA.Text);
        var listOther = await tokenA.CallAsync("schedule", new { action = "list", project_id = fixture.ProjectB.ToString() });
        Assert.Equal($"forbidden: 'schedule.list' on project {fixture.ProjectB} is not allowed for this token's scope 'project:{fixture.ProjectA}'", listOther.Text);

        // The list shows only what every target of which it may read.
        var listed = (await OkAsync(tokenA, new { action = "list" })).GetProperty("schedules").EnumerateArray().Select(item => item.GetProperty("id").GetString()).ToList();
        Assert.Contains(ownId, listed);
        Assert.DoesNotContain(sharedId, listed);
        Assert.DoesNotContain(bOnlyId, listed);
        Assert.Equal("check the build", (await Admin.CallAsync("schedule", new { action = "get", schedule_id = sharedId })).Json.GetProperty("schedule").GetProperty("prompt").GetString());
        Assert.Contains("\"action\":\"schedule.update\",\"result\":\"denied\"", await File.ReadAllTextAsync(fixture.Home.Home.AuditLog), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_default_workspace_named_is_stored_as_none_so_the_target_keeps_its_pin_either_way()
    {
        var id = await CreateAsync(Admin, Unique("default-named"), new { project_id = fixture.ProjectA, workspace_id = fixture.DefaultWorkspaceA });
        var target = (await OkAsync(Admin, new { action = "get", schedule_id = id })).GetProperty("schedule").GetProperty("targets")[0];

        Assert.False(target.TryGetProperty("workspace_id", out _), target.ToString());
        await OkAsync(Admin, new { action = "update", schedule_id = id, enabled = false });
    }

    [Fact]
    public async Task Project_tokens_are_held_to_the_schedule_count_the_prompt_size_and_the_shortest_interval()
    {
        const string limits = """
            {
              "server": { "address": "127.0.0.1:0" },
              "credentials": { "providers": { "credentials": { "scripted": { "provider": "openai-compatible", "api_key": "sk-x", "base_url": "http://127.0.0.1:9/v1" } }, "default": "scripted" } },
              "models": { "models": { "fast": { "model": "m", "provider": "scripted" } }, "defaults": { "session_model": "fast" } },
              "schedules": { "max_per_project": 2, "max_prompt_bytes": 100, "min_interval_seconds": 60 },
            }
            """;
        await using var home = await TestHome.CreateAsync(limits);
        await using var server = await InProcessServer.StartAsync(home, configureServices: services =>
        {
            services.AddSingleton<IContainerRuntime>(new FakeContainerRuntime());
            services.AddSingleton<IAgentRuntime>(new FakeAgentRuntime());
        });
        await using var admin = await McpTestClient.ConnectAsync(server.McpEndpoint, home.AdminSecret);
        var project = (await admin.CallAsync("project", new { action = "create", name = "limited" })).Json.GetProperty("project").GetProperty("id").GetGuid();
        await using var member = await McpTestClient.ConnectAsync(server.McpEndpoint, await home.CreateTokenAsync($"project:{project:D}"));
        object Create(string name, string cron, string prompt = "p") =>
            new { action = "create", name, cron_expr = cron, prompt, enabled = false, targets = new[] { new { project_id = project } } };

        var everySecond = await member.CallAsync("schedule", Create("fast", "* * * * * *"));
        var everyThirty = await member.CallAsync("schedule", Create("thirty", "*/30 * * * * *"));
        var bigPrompt = await member.CallAsync("schedule", Create("big", "0 9 * * *", new string('x', 101)));
        var adminFast = await admin.CallAsync("schedule", Create("admin-fast", "* * * * * *"));
        var hourly = await member.CallAsync("schedule", Create("hourly", "0 * * * *"));
        var third = await member.CallAsync("schedule", Create("third", "0 9 * * *"));

        Assert.Equal("cron_expr '* * * * * *' runs 1 s apart; a non-admin token may schedule runs at least 60 s apart (schedules.min_interval_seconds)", everySecond.Text);
        Assert.Equal("cron_expr '*/30 * * * * *' runs 30 s apart; a non-admin token may schedule runs at least 60 s apart (schedules.min_interval_seconds)", everyThirty.Text);
        Assert.True(bigPrompt.IsError);
        Assert.Contains("prompt", bigPrompt.Text, StringComparison.Ordinal);
        Assert.False(adminFast.IsError, adminFast.Text);
        Assert.False(hourly.IsError, hourly.Text);
        Assert.Equal($"project '{project:D}' already has 2 schedules, the most allowed (schedules.max_per_project = 2); delete one first", third.Text);
        Assert.Equal(2, (await admin.CallAsync("schedule", new { action = "list" })).Json.GetProperty("schedules").GetArrayLength());
    }

    [Fact]
    public async Task Without_any_model_configured_a_schedule_is_refused_at_create_naming_the_target()
    {
        await using var home = await TestHome.CreateAsync();
        await using var server = await InProcessServer.StartAsync(home, configureServices: services =>
        {
            services.AddSingleton<IContainerRuntime>(new FakeContainerRuntime());
            services.AddSingleton<IAgentRuntime>(new FakeAgentRuntime());
        });
        await using var admin = await McpTestClient.ConnectAsync(server.McpEndpoint, home.AdminSecret);
        var project = (await admin.CallAsync("project", new { action = "create", name = "no-model" })).Json.GetProperty("project").GetProperty("id").GetGuid();

        var refused = await admin.CallAsync("schedule", new { action = "create", name = "nightly", cron_expr = "0 9 * * *", prompt = "p", targets = new[] { new { project_id = project } } });

        Assert.True(refused.IsError);
        Assert.Equal($"targets[0]: no model is configured for project '{project:D}' (give 'model', or set models.models and defaults.agent.model in the config)", refused.Text);
        Assert.Equal(0, (await admin.CallAsync("schedule", new { action = "list" })).Json.GetProperty("schedules").GetArrayLength());
    }

    [Fact]
    public async Task An_update_keeps_the_token_it_runs_as_and_enabling_a_disabled_schedule_hands_it_to_the_enabler()
    {
        await using var tokenA = await fixture.ClientAsync($"project:{fixture.ProjectA}");
        var id = await CreateAsync(Admin, Unique("handed-over"), new { project_id = fixture.ProjectA });
        var adminCreator = (await OkAsync(Admin, new { action = "get", schedule_id = id })).GetProperty("schedule").GetProperty("creator_token_id").GetString();

        var edited = await OkAsync(tokenA, new { action = "update", schedule_id = id, prompt = "changed by a" });
        await OkAsync(Admin, new { action = "update", schedule_id = id, enabled = false });
        var enabled = await OkAsync(tokenA, new { action = "update", schedule_id = id, enabled = true });

        Assert.Equal(adminCreator, edited.GetProperty("schedule").GetProperty("creator_token_id").GetString());
        Assert.NotEqual(adminCreator, enabled.GetProperty("schedule").GetProperty("creator_token_id").GetString());
        Assert.StartsWith("tok_", enabled.GetProperty("schedule").GetProperty("creator_token_id").GetString(), StringComparison.Ordinal);
        await OkAsync(Admin, new { action = "update", schedule_id = id, enabled = false });
    }

    [Fact]
    public async Task Read_only_tokens_read_but_never_change()
    {
        await using var readerA = await fixture.ClientAsync($"project:{fixture.ProjectA}:ro");
        await using var adminRo = await fixture.ClientAsync("admin:ro");
        var ownId = await CreateAsync(Admin, Unique("ro-a"), new { project_id = fixture.ProjectA });
        var bId = await CreateAsync(Admin, Unique("ro-b"), new { project_id = fixture.ProjectB });
        await OkAsync(Admin, new { action = "trigger", schedule_id = bId });

        await OkAsync(readerA, new { action = "get", schedule_id = ownId });
        await OkAsync(readerA, new { action = "history", schedule_id = ownId });
        var adminRoList = (await OkAsync(adminRo, new { action = "list" })).GetProperty("schedules").EnumerateArray().Select(item => item.GetProperty("id").GetString()).ToList();
        var adminRoHistory = await OkAsync(adminRo, new { action = "history", schedule_id = bId, limit = 1 });
        var adminRoGet = await OkAsync(adminRo, new { action = "get", schedule_id = bId });
        var readerCreate = await readerA.CallAsync("schedule", new { action = "create", name = Unique("ro"), cron_expr = "0 9 * * *", prompt = "p", targets = new object[] { new { project_id = fixture.ProjectA } } });
        var readerTrigger = await readerA.CallAsync("schedule", new { action = "trigger", schedule_id = ownId });
        var adminRoUpdate = await adminRo.CallAsync("schedule", new { action = "update", schedule_id = bId, enabled = false });
        var adminRoDelete = await adminRo.CallAsync("schedule", new { action = "delete", schedule_id = bId });

        Assert.Contains(ownId, adminRoList);
        Assert.Contains(bId, adminRoList);
        Assert.Equal(1, adminRoHistory.GetProperty("executions").GetArrayLength());
        Assert.True(adminRoGet.TryGetProperty("last_execution", out _));
        Assert.Equal($"forbidden: 'schedule.create' changes state; this token's scope 'project:{fixture.ProjectA}:ro' is read-only", readerCreate.Text);
        Assert.Equal($"forbidden: 'schedule.trigger' changes state; this token's scope 'project:{fixture.ProjectA}:ro' is read-only", readerTrigger.Text);
        Assert.Equal("forbidden: 'schedule.update' changes state; this token's scope 'admin:ro' is read-only", adminRoUpdate.Text);
        Assert.Equal("forbidden: 'schedule.delete' changes state; this token's scope 'admin:ro' is read-only", adminRoDelete.Text);
        Assert.True((await OkAsync(Admin, new { action = "get", schedule_id = bId })).GetProperty("schedule").GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public async Task Agents_may_not_create_change_or_trigger_schedules()
    {
        var service = fixture.Server.Server.Services.GetRequiredService<ScheduleService>();
        var agent = new Caller("gw_agent", "agent", TokenScope.Project(fixture.ProjectA)) { IsAgent = true };
        var before = await CountAsync();

        var refused = await Assert.ThrowsAsync<ForbiddenException>(() => service.CreateAsync(
            new ScheduleInput("agent-made", "0 9 * * *", "p", [new ScheduleTargetInput(fixture.ProjectA.ToString())]), agent, CancellationToken.None));

        Assert.Equal("schedule create: agents may not create, change or trigger schedules; the client that started the session can", refused.Message);
        Assert.Equal(before, await CountAsync());
    }
}
