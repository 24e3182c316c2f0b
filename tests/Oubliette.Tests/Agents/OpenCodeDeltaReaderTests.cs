using System.Buffers;
using System.Text;
using System.Text.Json;
using Oubliette.Agents;
using Oubliette.Agents.OpenCode;

namespace Oubliette.Tests.Agents;

public sealed class OpenCodeDeltaReaderTests
{
    private static ReadOnlySequence<byte> Bytes(string json) => new(Encoding.UTF8.GetBytes(json));

    [Theory]
    [InlineData("""{"type":"message.part.delta","properties":{"sessionID":"s","messageID":"m","partID":"p","field":"text","delta":"Hi \"there\"\n"}}""")]
    [InlineData("""{"directory":"/workspace/x","payload":{"type":"message.part.delta","properties":{"sessionID":"s","field":"text","delta":"é"}}}""")]
    [InlineData("""{"payload":{"properties":{"delta":"late type","field":"text","sessionID":"s","extra":{"a":[1,{"b":2}]}},"type":"message.part.delta"}}""")]
    [InlineData("""{"type":"message.part.delta","properties":{"sessionID":"s","field":"reasoning","delta":"hmm"}}""")]
    [InlineData("""{"type":"message.part.delta","properties":{"field":"text","delta":"no session"}}""")]
    [InlineData("""{"type":"message.part.delta"}""")]
    public void Delta_events_map_as_the_general_mapper_maps_them(string json)
    {
        var expected = new OpenCodeEventMapper().Map(Payload(json));

        Assert.True(OpenCodeDeltaReader.TryRead(Bytes(json), out var delta));
        Assert.Equal(expected, delta);
    }

    [Theory]
    [InlineData("""{"type":"message.part.updated","properties":{"sessionID":"s","part":{"type":"text","text":"message.part.delta"}}}""")]
    [InlineData("""{"type":"session.idle","properties":{"sessionID":"s"}}""")]
    [InlineData("""{"payload":{"type":"server.connected","properties":{}}}""")]
    public void Other_events_are_left_to_the_general_mapper(string json) =>
        Assert.False(OpenCodeDeltaReader.TryRead(Bytes(json), out _));

    [Fact]
    public void Broken_json_is_an_error_as_with_the_general_mapper() =>
        Assert.ThrowsAny<JsonException>(() => OpenCodeDeltaReader.TryRead(Bytes("""{"type":"message.part.delta","properties":{"""), out _));

    private static JsonElement Payload(string json)
    {
        var root = JsonDocument.Parse(json).RootElement;
        return root.TryGetProperty("payload", out var payload) ? payload : root;
    }

    [Fact]
    public void A_text_delta_carries_its_session_and_text()
    {
        Assert.True(OpenCodeDeltaReader.TryRead(Bytes("""{"type":"message.part.delta","properties":{"sessionID":"ses_1","field":"text","delta":"abc"}}"""), out var delta));

        Assert.Equal(new AgentEvent("ses_1", AgentEventKind.Delta, Text: "abc"), delta);
    }
}
