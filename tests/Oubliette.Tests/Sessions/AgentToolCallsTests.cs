using System.Text.Json;
using Oubliette.Errors;
using Oubliette.Sessions;

namespace Oubliette.Tests.Sessions;

public sealed class AgentToolCallsTests
{
    private static readonly Guid Project = Guid.NewGuid();
    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task A_call_is_attributed_to_the_session_whose_stream_shows_the_same_tool_and_arguments()
    {
        var calls = new AgentToolCalls();
        calls.Started(Project, "gogol_a", "call_1", "oubliette_session", Json("""{"action":"spawn","prompt":"x"}"""));
        calls.Started(Project, "gogol_b", "call_2", "oubliette_session", Json("""{"action":"spawn","prompt":"y"}"""));

        var session = await calls.ClaimAsync(Project, "oubliette_session", Json("""{"prompt":"y","action":"spawn"}"""), Short, CancellationToken.None);

        Assert.Equal("gogol_b", session);
    }

    [Fact]
    public async Task A_call_that_arrives_before_its_event_waits_for_it()
    {
        var calls = new AgentToolCalls();

        var claim = calls.ClaimAsync(Project, "oubliette_config_limits", Json("{}"), TimeSpan.FromSeconds(5), CancellationToken.None);
        await Task.Delay(50);
        calls.Started(Project, "gogol_a", "call_1", "oubliette_config_limits", null);

        Assert.Equal("gogol_a", await claim);
    }

    [Fact]
    public async Task Each_running_call_is_claimed_once_and_a_call_nobody_made_is_refused()
    {
        var calls = new AgentToolCalls();
        calls.Started(Project, "gogol_a", "call_1", "oubliette_session", Json("""{"action":"get"}"""));

        await calls.ClaimAsync(Project, "oubliette_session", Json("""{"action":"get"}"""), Short, CancellationToken.None);
        var second = await Assert.ThrowsAsync<ForbiddenException>(() => calls.ClaimAsync(Project, "oubliette_session", Json("""{"action":"get"}"""), Short, CancellationToken.None));
        var otherProject = await Assert.ThrowsAsync<ForbiddenException>(async () =>
        {
            calls.Started(Guid.NewGuid(), "gogol_z", "call_9", "oubliette_session", Json("""{"action":"get"}"""));
            await calls.ClaimAsync(Project, "oubliette_session", Json("""{"action":"get"}"""), Short, CancellationToken.None);
        });

        Assert.Contains("cannot be attributed to a session", second.Message, StringComparison.Ordinal);
        Assert.Contains("cannot be attributed to a session", otherProject.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_same_call_from_two_sessions_at_once_is_refused_as_ambiguous_and_finished_calls_are_gone()
    {
        var calls = new AgentToolCalls();
        calls.Started(Project, "gogol_a", "call_1", "oubliette_session", Json("""{"action":"get"}"""));
        calls.Started(Project, "gogol_b", "call_2", "oubliette_session", Json("""{"action":"get"}"""));

        var ambiguous = await Assert.ThrowsAsync<ConflictException>(() => calls.ClaimAsync(Project, "oubliette_session", Json("""{"action":"get"}"""), Short, CancellationToken.None));
        calls.Finished("call_1");
        var afterFinish = await calls.ClaimAsync(Project, "oubliette_session", Json("""{"action":"get"}"""), Short, CancellationToken.None);
        calls.Started(Project, "gogol_c", "call_3", "oubliette_session", Json("""{"action":"get"}"""));
        calls.ForgetSession("gogol_c");

        Assert.Contains("gogol_a, gogol_b made the same call", ambiguous.Message, StringComparison.Ordinal);
        Assert.Equal("gogol_b", afterFinish);
        await Assert.ThrowsAsync<ForbiddenException>(() => calls.ClaimAsync(Project, "oubliette_session", Json("""{"action":"get"}"""), Short, CancellationToken.None));
    }
}
