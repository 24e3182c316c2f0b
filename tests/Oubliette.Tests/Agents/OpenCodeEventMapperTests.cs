using System.Text.Json;
using Oubliette.Agents;
using Oubliette.Agents.OpenCode;

namespace Oubliette.Tests.Agents;

public sealed class OpenCodeEventMapperTests
{
    private static AgentEvent? Map(OpenCodeEventMapper mapper, string json) => mapper.Map(JsonDocument.Parse(json).RootElement);

    [Fact]
    public void Tool_parts_become_one_call_when_running_and_one_result_when_completed()
    {
        var mapper = new OpenCodeEventMapper();
        const string pending = """{"type":"message.part.updated","properties":{"sessionID":"ses_1","part":{"type":"tool","tool":"bash","callID":"c1","state":{"status":"pending","input":{}}}}}""";
        const string running = """{"type":"message.part.updated","properties":{"sessionID":"ses_1","part":{"type":"tool","tool":"bash","callID":"c1","state":{"status":"running","input":{"command":"ls"}}}}}""";
        const string completed = """{"type":"message.part.updated","properties":{"sessionID":"ses_1","part":{"type":"tool","tool":"bash","callID":"c1","state":{"status":"completed","input":{"command":"ls"},"output":"a.txt"}}}}""";

        Assert.Null(Map(mapper, pending));
        var call = Map(mapper, running);
        Assert.Null(Map(mapper, running));
        var result = Map(mapper, completed);
        Assert.Null(Map(mapper, completed));

        Assert.Equal(AgentEventKind.ToolCall, call?.Kind);
        Assert.Equal("ls", call?.Input?.GetProperty("command").GetString());
        Assert.Equal(AgentEventKind.ToolResult, result?.Kind);
        Assert.Equal("a.txt", result?.Text);
        Assert.False(result?.IsError);
    }

    [Theory]
    [InlineData("""{"type":"message.part.delta","properties":{"sessionID":"s","field":"text","delta":"Hi"}}""", AgentEventKind.Delta, "Hi")]
    [InlineData("""{"type":"message.part.updated","properties":{"sessionID":"s","part":{"type":"text","text":"Hello"}}}""", AgentEventKind.Message, "Hello")]
    [InlineData("""{"type":"session.idle","properties":{"sessionID":"s"}}""", AgentEventKind.Idle, null)]
    [InlineData("""{"type":"session.status","properties":{"sessionID":"s","status":{"type":"busy"}}}""", AgentEventKind.Busy, null)]
    [InlineData("""{"type":"session.error","properties":{"sessionID":"s","error":{"name":"APIError","data":{"message":"quota"}}}}""", AgentEventKind.Error, "quota")]
    public void Stream_events_map_to_agent_events(string json, AgentEventKind kind, string? text)
    {
        var mapped = Map(new OpenCodeEventMapper(), json);

        Assert.Equal(kind, mapped?.Kind);
        Assert.Equal("s", mapped?.AgentSessionId);
        if (text is not null)
        {
            Assert.Equal(text, mapped?.Text);
        }
    }

    [Fact]
    public void Retries_are_reported_with_the_attempt_and_the_reason()
    {
        var mapped = Map(new OpenCodeEventMapper(), """{"type":"session.status","properties":{"sessionID":"s","status":{"type":"retry","attempt":2,"message":"overloaded"}}}""");

        Assert.Equal(AgentEventKind.Retry, mapped?.Kind);
        Assert.Equal("model call failed (attempt 2); the agent retries: overloaded", mapped?.Text);
    }

    [Theory]
    [InlineData("""{"type":"server.connected","properties":{}}""")]
    [InlineData("""{"type":"plugin.added","properties":{"id":"x"}}""")]
    [InlineData("""{"type":"message.part.updated","properties":{"sessionID":"s","part":{"type":"text","text":""}}}""")]
    [InlineData("""{"type":"message.part.delta","properties":{"sessionID":"s","field":"reasoning","delta":"hmm"}}""")]
    public void Other_events_are_ignored(string json) => Assert.Null(Map(new OpenCodeEventMapper(), json));
}
