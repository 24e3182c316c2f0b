using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ModelContextProtocol.Client;
using Xunit.Abstractions;
using Oubliette.Projects;
using Oubliette.Testing;

namespace Oubliette.EndToEnd.Security;

/// <summary>
/// Inputs aimed at the server's memory, against the real executable in a process of its own (its resident set is what
/// the host pays): multi-megabyte prompts, and event polls of the sessions that echo them, by any token of the project.
/// </summary>
/// <remarks>
/// Measured with this test on the 2-core test machine (VmRSS in MiB; other test runs shared the machine). Before the
/// caps (prompt limit not configurable, the prompt echoed as an event, rings bounded by count only): idle 140, peak 2866,
/// end 2625, and one events answer was 3.5 MB. With them, four runs: idle 131-136, peak 366-602, end 326-561, the
/// largest events answer under 1 KB; adding System.GC.ConserveMemory=5 (now set), three runs: peak 289-346, end 270-332. After a forced full GC the live managed heap was about 80 MiB (most of it 4 and 16 MB
/// arrays kept by the shared array pool) while the RSS stayed near 360 MiB: the rest is heap the GC freed but keeps
/// committed, not live data. The bounds below leave about twice the measured peak and end.
/// </remarks>
[Collection(DockerCollection.Name)]
public sealed class MemoryAttackTests(DockerEnvironment docker, ITestOutputHelper output)
{
    private const int PromptBytes = 3_500_000;
    private const string LargePromptsAllowed = "\"max_prompt_bytes\": 4194304";
    private const int Prompts = 20;

    /// <summary>Peak and end RSS allowed: the measured peak with a wide margin, well below what the old code reached.</summary>
    private const long PeakBoundMiB = 1200;
    private const long EndBoundMiB = 1024;

    [Fact]
    public async Task Twenty_prompts_of_three_and_a_half_megabytes_and_event_polls_keep_the_server_memory_bounded()
    {
        await using var server = await ServerProcess.StartAsync(docker, LargePromptsAllowed);
        var project = await server.CreateProjectAsync("memory-attack");
        await using var readOnly = await server.ConnectAsync(await server.Home.CreateTokenAsync($"project:{project:D}:ro"));
        await using var member = await server.ConnectAsync(await server.Home.CreateTokenAsync($"project:{project:D}"));

        // One small turn first, so that the baseline is a server that has already run a session (code loaded and jitted).
        server.Model.Conversation("warm-up-turn", ScriptStep.Reply("warm"));
        await server.WarmUpAsync(member, project, "warm-up-turn: say warm");
        await Task.Delay(TimeSpan.FromSeconds(2));
        var baseline = server.ResidentMiB();
        var samples = new List<long>();
        var longest = 0;

        for (var turn = 0; turn < Prompts; turn++)
        {
            var marker = $"memory-attack-{turn:D2}-{Guid.NewGuid():N}";
            server.Model.Conversation(marker, ScriptStep.Reply($"read prompt {turn}"));
            var sessionId = await server.RunTurnAsync(member, project, LargePrompt(marker));
            foreach (var client in new[] { member, readOnly, readOnly, server.Admin, readOnly, member })
            {
                var events = await client.CallAsync("session", new { action = "events", session_id = sessionId, since_index = -1 });
                Assert.False(events.IsError, events.Text);
                longest = Math.Max(longest, events.Text.Length);
                samples.Add(server.ResidentMiB());
            }

            var ended = await server.Admin.CallAsync("session", new { action = "end", session_id = sessionId });
            Assert.False(ended.IsError, ended.Text);
        }

        await Task.Delay(TimeSpan.FromSeconds(5));
        var end = server.ResidentMiB();
        var peak = server.PeakResidentMiB();
        var managed = await server.ManagedHeapMiBAsync();
        var figures = $"RSS MiB: baseline {baseline}, peak {peak} (highest sample {samples.Max()}), end {end}; managed heap at the end {managed} MiB; longest events answer {longest} chars";
        output.WriteLine(figures);
        await File.AppendAllTextAsync(Path.Combine(Path.GetTempPath(), "oubliette-memory-figures.txt"), $"{DateTime.UtcNow:O} {figures}\n");

        Assert.Equal(Prompts + 1, server.Model.AgentRequests.Count);
        Assert.True(peak < PeakBoundMiB, figures);
        Assert.True(end < EndBoundMiB, figures);
        Assert.True(longest < 4 * 1024 * 1024, figures);
    }

    [Fact]
    public async Task The_default_prompt_cap_refuses_a_prompt_of_three_and_a_half_megabytes_and_nothing_starts()
    {
        await using var server = await ServerProcess.StartAsync(docker);
        var project = await server.CreateProjectAsync("memory-cap");
        await using var member = await server.ConnectAsync(await server.Home.CreateTokenAsync($"project:{project:D}"));
        var marker = $"refused-{Guid.NewGuid():N}";

        var spawned = await member.CallAsync("session", new { action = "spawn", project_id = project.ToString("D"), prompt = LargePrompt(marker), new_session = true });
        var messaged = await member.CallAsync("session", new { action = "message", project_id = project.ToString("D"), message = LargePrompt(marker) });
        var sessions = await server.Admin.CallAsync("session", new { action = "list", project_id = project.ToString("D") });

        Assert.True(spawned.IsError, spawned.Text);
        Assert.Contains($"'prompt' is {PromptBytes} bytes (UTF-8), more than the 1048576 allowed (server.max_prompt_bytes)", spawned.Text, StringComparison.Ordinal);
        Assert.True(messaged.IsError, messaged.Text);
        Assert.Contains($"'message' is {PromptBytes} bytes (UTF-8), more than the 1048576 allowed (server.max_prompt_bytes)", messaged.Text, StringComparison.Ordinal);
        Assert.Equal(0, sessions.Json.GetProperty("sessions").GetArrayLength());
        Assert.Empty(server.Model.Requests);
    }

    [Fact]
    public async Task A_conversation_grown_past_the_gateway_request_cap_fails_the_session_with_a_clear_error_and_no_retry_loop()
    {
        await using var server = await ServerProcess.StartAsync(docker, LargePromptsAllowed);
        var project = await server.CreateProjectAsync("memory-413");
        await using var member = await server.ConnectAsync(await server.Home.CreateTokenAsync($"project:{project:D}"));
        var marker = $"over-cap-{Guid.NewGuid():N}";
        server.Model.Conversation(marker, ScriptStep.Reply("first read"), ScriptStep.Reply("never reached"));
        var sessionId = await server.RunTurnAsync(member, project, LargePrompt(marker));
        var requestsBefore = server.Model.AgentRequests.Count;

        // The second turn's model call carries both prompts (about 7 MB): more than server.max_request_body_bytes (4 MiB).
        var messaged = await member.CallAsync("session", new { action = "message", session_id = sessionId, message = LargePrompt(marker + "-again") });
        Assert.False(messaged.IsError, messaged.Text);
        var waited = await server.Admin.CallAsync("session", new { action = "wait", session_id = sessionId, until = "completed", timeout_seconds = 120 });
        var session = await server.SessionAsync(sessionId);
        var events = await server.Admin.CallAsync("session", new { action = "events", session_id = sessionId, since_index = -1 });
        var errors = events.Json.GetProperty("events").EnumerateArray().Where(item => item.GetProperty("type").GetString() == "error").ToList();
        await Task.Delay(TimeSpan.FromSeconds(5));
        var peak = server.PeakResidentMiB();

        Assert.True(waited.Json.GetProperty("reached").GetBoolean(), waited.Text);
        Assert.Equal("failed", session.GetProperty("status").GetString());
        Assert.Contains("server.max_request_body_bytes", session.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.NotEmpty(errors);
        Assert.True(errors.Count <= 3, $"{errors.Count} error events: the agent kept retrying");
        Assert.Equal(requestsBefore, server.Model.AgentRequests.Count);
        Assert.True(events.Text.Length < 4 * 1024 * 1024, $"events answer of {events.Text.Length} chars");
        Assert.True(peak < PeakBoundMiB, $"peak RSS {peak} MiB");
    }

    /// <summary>Prompt text of about <see cref="PromptBytes"/> UTF-8 bytes that starts with the conversation's marker.</summary>
    private static string LargePrompt(string marker)
    {
        var builder = new StringBuilder(PromptBytes + 64).Append(marker).Append(": read all of this. ");
        var words = new[] { "lorem ", "ipsum ", "dolor ", "sit ", "amet ", "consectetur ", "adipiscing ", "elit ", "sed ", "do " };
        for (var index = 0; builder.Length < PromptBytes; index++)
        {
            builder.Append(words[index % words.Length]);
        }

        return builder.ToString(0, PromptBytes);
    }

    /// <summary>
    /// The built <c>oubliette</c> executable serving a test home whose only model is the scripted one. Containers of a
    /// separate process carry no test label: the projects it made are deleted (and their containers removed) at the end.
    /// </summary>
    private sealed class ServerProcess : IAsyncDisposable
    {
        private readonly DockerEnvironment _docker;
        private readonly Process _process;
        private readonly List<Guid> _projects = [];

        private ServerProcess(DockerEnvironment docker, ScriptedModelServer model, TestHome home, Process process, Uri address, McpClient admin)
        {
            _docker = docker;
            Model = model;
            Home = home;
            _process = process;
            Address = address;
            Admin = admin;
        }

        public ScriptedModelServer Model { get; }
        public TestHome Home { get; }
        public Uri Address { get; }
        public McpClient Admin { get; }

        public static async Task<ServerProcess> StartAsync(DockerEnvironment docker, string extraServer = "")
        {
            var model = await ScriptedModelServer.StartAsync();
            var home = await TestHome.CreateAsync(SessionFixture.Config(model.BaseUrl, extraServer: extraServer));
            var process = OublietteProcess.Start(["--dir", home.Root]);
            // Nobody reads the server's console; drain it so that a full pipe never blocks it.
            _ = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!File.Exists(home.Home.AddressFile) && !process.HasExited && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            var text = File.Exists(home.Home.AddressFile) ? (await File.ReadAllTextAsync(home.Home.AddressFile)).Trim() : "";
            if (!Uri.TryCreate(text, UriKind.Absolute, out var address))
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"the server did not publish its address (exited: {process.HasExited})");
            }

            var admin = await McpTestClient.ConnectAsync(new Uri(address, "/mcp"), home.AdminSecret);
            return new ServerProcess(docker, model, home, process, address, admin);
        }

        public async Task<McpClient> ConnectAsync(string secret) => await McpTestClient.ConnectAsync(new Uri(Address, "/mcp"), secret);

        public async Task<Guid> CreateProjectAsync(string name)
        {
            var outcome = await Admin.CallAsync("project", new { action = "create", name, container_type = "base" });
            Assert.False(outcome.IsError, outcome.Text);
            var id = outcome.Json.GetProperty("project").GetProperty("id").GetGuid();
            _projects.Add(id);
            return id;
        }

        /// <summary>Spawns a new session with <paramref name="prompt"/> and waits until its turn is over; returns its id.</summary>
        public async Task<string> RunTurnAsync(McpClient client, Guid project, string prompt)
        {
            var spawned = await client.CallAsync("session", new { action = "spawn", project_id = project.ToString("D"), prompt, new_session = true });
            Assert.False(spawned.IsError, spawned.Text);
            var sessionId = spawned.Json.GetProperty("session_id").GetString()!;
            var waited = await client.CallAsync("session", new { action = "wait", session_id = sessionId, until = "idle", timeout_seconds = 120 });
            Assert.False(waited.IsError, waited.Text);
            Assert.True(waited.Json.GetProperty("reached").GetBoolean(), $"session {sessionId} did not finish its turn: {waited.Text}");
            return sessionId;
        }

        /// <summary>
        /// A first small turn, which starts the project's agent. On a loaded machine OpenCode may take longer to start
        /// than the server waits; the start is not what these tests measure, so it is tried again a couple of times.
        /// </summary>
        public async Task WarmUpAsync(McpClient client, Guid project, string prompt)
        {
            for (var attempt = 1; ; attempt++)
            {
                var spawned = await client.CallAsync("session", new { action = "spawn", project_id = project.ToString("D"), prompt, new_session = true });
                if (spawned.IsError && attempt < 3 && spawned.Text.Contains("did not answer within", StringComparison.Ordinal))
                {
                    continue;
                }

                Assert.False(spawned.IsError, spawned.Text);
                var sessionId = spawned.Json.GetProperty("session_id").GetString()!;
                var waited = await client.CallAsync("session", new { action = "wait", session_id = sessionId, until = "idle", timeout_seconds = 120 });
                Assert.True(waited.Json.GetProperty("reached").GetBoolean(), $"session {sessionId} did not finish its turn: {waited.Text}");
                return;
            }
        }

        public async Task<JsonElement> SessionAsync(string sessionId) =>
            (await Admin.CallAsync("session", new { action = "get", session_id = sessionId })).Json.GetProperty("session");

        /// <summary>The managed heap the server reports (<c>dotnet_total_memory_bytes</c> on /metrics), in MiB.</summary>
        public async Task<long> ManagedHeapMiBAsync()
        {
            using var http = new HttpClient { BaseAddress = Address };
            var metrics = await http.GetStringAsync("/metrics");
            var line = metrics.Split('\n').Single(line => line.StartsWith("dotnet_total_memory_bytes ", StringComparison.Ordinal));
            return (long)double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture) / (1024 * 1024);
        }

        /// <summary>The server's resident set now (VmRSS), in MiB.</summary>
        public long ResidentMiB() => StatusKiB("VmRSS:") / 1024;

        /// <summary>The highest resident set the server has had (VmHWM), in MiB.</summary>
        public long PeakResidentMiB() => StatusKiB("VmHWM:") / 1024;

        private long StatusKiB(string field)
        {
            var line = File.ReadLines($"/proc/{_process.Id}/status").Single(line => line.StartsWith(field, StringComparison.Ordinal));
            return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var project in _projects)
            {
                try
                {
                    await Admin.CallAsync("project", new { action = "delete", project_id = project.ToString("D"), force = true });
                }
                catch (Exception exception) when (exception is not OutOfMemoryException)
                {
                    // The container is removed below either way.
                }

                await _docker.Runtime.RemoveAsync(ProjectContainers.NameOf(project), CancellationToken.None);
            }

            await Admin.DisposeAsync();
            if (!_process.HasExited)
            {
                using var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
                await term.WaitForExitAsync();
                try
                {
                    await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
                }
                catch (TimeoutException)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }

            _process.Dispose();
            await Home.DisposeAsync();
            await Model.DisposeAsync();
        }
    }
}
