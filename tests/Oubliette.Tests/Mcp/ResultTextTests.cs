using System.Text.Json;
using ModelContextProtocol.Protocol;
using Oubliette.Mcp;
using Oubliette.Sessions;

namespace Oubliette.Tests.Mcp;

public sealed class ResultTextTests
{
    private const string Session = "gogol_20261130_221000_5f3a9c1e";

    [Fact]
    public void A_small_page_reads_as_plain_lines_with_every_value_and_no_json_quotes()
    {
        var page = Page(2, text: "the \"quoted\" answer");

        var text = Text(StructuredResult.Of(page));

        Assert.Equal(
            $"session_id: {Session}\nstatus: running\nlast_index: 1\nevents: 2\n- index: 0, type: message, text: the \"quoted\" answer\n- index: 1, type: message, text: the \"quoted\" answer\n",
            text);
    }

    [Fact]
    public void A_large_page_is_cut_to_its_budget_and_says_where_the_rest_is()
    {
        var page = Page(400, text: new string('x', 1000));

        var result = StructuredResult.Of(page);
        var payload = JsonSerializer.SerializeToUtf8Bytes(page, McpJson.Options.GetTypeInfo(typeof(SessionToolResult))).Length;
        var text = Text(result);

        Assert.True(text.Length < payload * 0.35, $"{text.Length} chars of text for {payload} bytes of JSON");
        Assert.Contains("more (cut; the full result is in structuredContent)", text, StringComparison.Ordinal);
        Assert.Contains("- index: 0, type: message, text: " + new string('x', ResultText.MaxValueChars) + "...", text, StringComparison.Ordinal);
        Assert.Equal(400, ((JsonElement)result.StructuredContent!).GetProperty("events").GetArrayLength());
    }

    [Fact]
    public void An_agent_gets_the_whole_json_as_text_with_quotes_unescaped()
    {
        var page = Page(1, text: "say \"hi\" é");

        var text = Text(StructuredResult.Of(page, complete: true));

        Assert.Contains("\"text\":\"say \\\"hi\\\" é\"", text, StringComparison.Ordinal);
        Assert.Equal(0, JsonDocument.Parse(text).RootElement.GetProperty("last_index").GetInt64());
    }

    private static SessionToolResult Page(int count, string text) => new(
        SessionId: Session,
        Status: "running",
        Events: [.. Enumerable.Range(0, count).Select(index => new SessionEvent(index, DateTimeOffset.UnixEpoch, "message", Session, Text: text))],
        LastIndex: count - 1);

    private static string Text(CallToolResult result) => Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;
}
