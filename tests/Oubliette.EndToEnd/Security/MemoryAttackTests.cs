using System.Text;
using Xunit.Abstractions;
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
        await using var server = await StartServerAsync(LargePromptsAllowed);
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

        // One model call per prompt, counted by marker: a warm-up spawn that timed out on a loaded machine is tried again.
        Assert.Equal(Prompts, server.Model.AgentRequests.Count(request => request.FirstUserMessage.Contains("memory-attack-", StringComparison.Ordinal)));
        Assert.True(peak < PeakBoundMiB, figures);
        Assert.True(end < EndBoundMiB, figures);
        Assert.True(longest < 4 * 1024 * 1024, figures);
    }

    [Fact]
    public async Task The_default_prompt_cap_refuses_a_prompt_of_three_and_a_half_megabytes_and_nothing_starts()
    {
        await using var server = await StartServerAsync();
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
        await using var server = await StartServerAsync(LargePromptsAllowed);
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

    /// <summary>The real executable on a home whose only model is a new scripted one (owned by the server).</summary>
    private async Task<ServerProcess> StartServerAsync(string extraServer = "")
    {
        var model = await ScriptedModelServer.StartAsync();
        return await ServerProcess.StartAsync(docker, SessionFixture.Config(model.BaseUrl, extraServer: extraServer), model);
    }
}
