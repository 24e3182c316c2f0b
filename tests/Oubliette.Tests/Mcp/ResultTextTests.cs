using System.Text.Json;
using ModelContextProtocol.Protocol;
using Oubliette.Mcp;
using Oubliette.Sessions;

namespace Oubliette.Tests.Mcp;

public sealed class ResultTextTests
{
    private const string Session = "gogol_20261130_221000_5f3a9c1e";

    [Fact]
    public void A_small_page_reads_as_one_line_per_event_with_every_value_and_no_json_quotes()
    {
        var page = Page(2, text: "the \"quoted\" answer");

        var text = Text(StructuredResult.Of(page));

        Assert.Equal("status: running, last_index: 1, events: 2\n[0] message: the \"quoted\" answer\n[1] message: the \"quoted\" answer\n", text);
    }

    [Fact]
    public void An_event_line_keeps_every_field_but_the_timestamp_and_names_another_sessions_id()
    {
        var page = new SessionToolResult(SessionId: Session, Status: "idle", Events:
        [
            new SessionEvent(7, DateTimeOffset.UnixEpoch, "tool_call", Session, Tool: "bash", CallId: "call_1", Input: JsonElement.Parse("""{"command":"ls -la"}""")),
            new SessionEvent(8, DateTimeOffset.UnixEpoch, "completion", "gogol_child", Text: "done", TokensIn: 10, CostUsd: 0.5),
        ], LastIndex: 8);

        var text = Text(StructuredResult.Of(page));

        Assert.Equal(
            "status: idle, last_index: 8, events: 2\n[7] tool_call: tool: bash, call_id: call_1, input: command: ls -la\n[8] completion: done, session_id: gogol_child, tokens_in: 10, cost_usd: 0.5\n",
            text);
    }

    [Fact]
    public void A_one_event_page_always_shows_its_event_even_past_the_budget()
    {
        var page = Page(1, text: new string('y', 250));

        var text = Text(StructuredResult.Of(page));

        Assert.Equal($"status: running, last_index: 0, events: 1\n[0] message: {new string('y', 250)}\n", text);
    }

    [Fact]
    public void A_cut_page_tells_a_text_reader_the_since_index_that_fetches_the_rest()
    {
        var page = Page(50, text: new string('z', 200));

        var text = Text(StructuredResult.Of(page));

        var shown = text.Split('\n').Count(line => line.StartsWith('['));
        Assert.InRange(shown, 1, 49);
        Assert.EndsWith($"... {50 - shown} more events (cut; call events again with since_index {shown - 1} for them)\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tree_page_lists_its_cursors_and_points_to_structured_content_when_cut()
    {
        var page = new SessionToolResult(SessionId: Session, Events: [.. Enumerable.Range(0, 50).Select(index =>
                new SessionEvent(index, DateTimeOffset.UnixEpoch, "message", Session, Text: new string('w', 200)))],
            Cursors: new Dictionary<string, long> { [Session] = 49, ["gogol_child"] = 3 });

        var text = Text(StructuredResult.Of(page));

        Assert.StartsWith($"events: 50\ncursors: {Session}: 49, gogol_child: 3\n[0] message: ", text, StringComparison.Ordinal);
        Assert.EndsWith("more events (cut; the full page is in structuredContent)\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Other_results_keep_name_value_lines()
    {
        var result = new SessionToolResult(SessionId: Session, Status: "idle", Reached: true, LastEventIndex: 12);

        var text = Text(StructuredResult.Of(result));

        Assert.Equal($"session_id: {Session}\nstatus: idle\nlast_event_index: 12\nreached: true\n", text);
    }

    [Fact]
    public void A_large_page_is_cut_to_its_budget_and_says_where_the_rest_is()
    {
        var page = Page(400, text: new string('x', 250));

        var result = StructuredResult.Of(page);
        var payload = JsonSerializer.SerializeToUtf8Bytes(page, McpJson.Options.GetTypeInfo(typeof(SessionToolResult))).Length;
        var text = Text(result);

        Assert.True(text.Length < payload * 0.35, $"{text.Length} chars of text for {payload} bytes of JSON");
        Assert.Contains("more events (cut; call events again with since_index ", text[^200..], StringComparison.Ordinal);
        Assert.Equal(400, ((JsonElement)result.StructuredContent!).GetProperty("events").GetArrayLength());
    }

    [Fact]
    public void A_long_value_is_cut_to_its_limit()
    {
        var text = Text(StructuredResult.Of(Page(1, text: new string('x', 1000))));

        Assert.EndsWith("[0] message: " + new string('x', ResultText.MaxValueChars) + "...\n", text, StringComparison.Ordinal);
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
