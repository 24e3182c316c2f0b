using System.Text;
using System.Text.Json;
using Oubliette.Agents;
using Oubliette.Agents.OpenCode;

namespace Oubliette.Tests.Agents;

public sealed class BoundedTextTests
{
    [Fact]
    public void Short_text_is_kept_whole_and_not_marked()
    {
        Assert.Equal("héllo", BoundedText.Truncate("héllo", 6, out var truncated));
        Assert.False(truncated);
    }

    [Theory]
    [InlineData("aaaaé", 5, "aaaa")]
    [InlineData("ab😀cd", 5, "ab")]
    [InlineData("ab😀cd", 6, "ab😀")]
    [InlineData("€€€", 7, "€€")]
    public void Long_text_is_cut_on_a_character_boundary_within_the_byte_limit(string text, int maxBytes, string expected)
    {
        var cut = BoundedText.Truncate(text, maxBytes, out var truncated);

        Assert.Equal(expected, cut);
        Assert.True(truncated);
        Assert.True(Encoding.UTF8.GetByteCount(cut) <= maxBytes);
    }

    [Theory]
    [InlineData("\"plain ascii text that is long\"", 10)]
    [InlineData("\"line\\nbreaks\\tand \\\"quotes\\\" here\"", 9)]
    [InlineData("\"\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\"", 14)]
    [InlineData("\"é€😀é€😀é€😀\"", 8)]
    public void A_json_string_is_decoded_only_up_to_the_limit_and_never_split_inside_an_escape(string json, int maxBytes)
    {
        var element = JsonDocument.Parse(json).RootElement;
        var whole = element.GetString()!;

        var cut = BoundedText.FromJsonString(element, maxBytes, out var truncated);

        Assert.True(truncated);
        Assert.StartsWith(cut, whole, StringComparison.Ordinal);
        Assert.True(Encoding.UTF8.GetByteCount(cut) <= maxBytes);
        Assert.True(cut.Length > 0);
    }

    [Fact]
    public void Json_input_keeps_its_shape_and_fits_about_the_limit()
    {
        var input = JsonDocument.Parse(JsonSerializer.Serialize(new { path = "a.txt", content = new string('x', 100_000), lines = Enumerable.Range(0, 10_000).ToArray() })).RootElement;

        var cut = BoundedText.Truncate(input, 4096, out var truncated);

        Assert.True(truncated);
        Assert.Equal("a.txt", cut.GetProperty("path").GetString());
        Assert.StartsWith("xxx", cut.GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.True(cut.GetRawText().Length <= 4096 + 64, $"{cut.GetRawText().Length} bytes");
    }

    [Fact]
    public void The_mapper_cuts_a_huge_message_and_tool_output_and_marks_them()
    {
        var mapper = new OpenCodeEventMapper(1024);
        var huge = new string('y', 3_000_000);
        var message = JsonSerializer.Serialize(new { type = "message.part.updated", properties = new { sessionID = "s", part = new { type = "text", text = huge } } });
        var output = JsonSerializer.Serialize(new { type = "message.part.updated", properties = new { sessionID = "s", part = new { type = "tool", tool = "bash", callID = "c", state = new { status = "completed", output = huge } } } });

        var mappedMessage = mapper.Map(JsonDocument.Parse(message).RootElement);
        var mappedOutput = mapper.Map(JsonDocument.Parse(output).RootElement);

        Assert.Equal(1024, mappedMessage?.Text?.Length);
        Assert.True(mappedMessage?.Truncated);
        Assert.Equal(1024, mappedOutput?.Text?.Length);
        Assert.True(mappedOutput?.Truncated);
    }

    [Fact]
    public void The_mapper_does_not_echo_the_parts_of_the_users_own_message()
    {
        var mapper = new OpenCodeEventMapper(1024);
        const string user = """{"type":"message.updated","properties":{"info":{"id":"msg_u","sessionID":"s","role":"user"}}}""";
        const string prompt = """{"type":"message.part.updated","properties":{"sessionID":"s","part":{"type":"text","messageID":"msg_u","text":"the prompt"}}}""";
        const string reply = """{"type":"message.part.updated","properties":{"sessionID":"s","part":{"type":"text","messageID":"msg_a","text":"the reply"}}}""";

        Assert.Null(mapper.Map(JsonDocument.Parse(user).RootElement));
        Assert.Null(mapper.Map(JsonDocument.Parse(prompt).RootElement));
        Assert.Equal("the reply", mapper.Map(JsonDocument.Parse(reply).RootElement)?.Text);
    }

    [Fact]
    public void The_delta_reader_cuts_a_huge_delta_and_marks_it()
    {
        var json = JsonSerializer.Serialize(new { type = "message.part.delta", properties = new { sessionID = "s", field = "text", delta = new string('z', 100_000) } });

        Assert.True(OpenCodeDeltaReader.TryRead(new System.Buffers.ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(json)), out var delta, 2048));

        Assert.Equal(2048, delta?.Text?.Length);
        Assert.True(delta?.Truncated);
    }
}
