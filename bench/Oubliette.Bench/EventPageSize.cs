using System.Text;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using Oubliette.Mcp;
using Oubliette.Sessions;

namespace Oubliette.Bench;

/// <summary>
/// Bytes on the wire of a <c>session events</c> page against its payload (the page's JSON as the schema defines it,
/// written compactly: session id, status, every event with all its fields, last_index; what structuredContent carries):
/// the tool result as the server builds it, in the JSON-RPC response and the SSE frames the SDK writes for a 2025-11-25
/// client of a server with resumable streams (a priming event, then the response with its event id; an older client
/// gets neither, 37 bytes less); the old way (the JSON again as text, written with the default encoder) measured beside it.
/// </summary>
internal static class EventPageSize
{
    private const string SessionId = "gogol_20261130_221000_5f3a9c1e";

    public static void Print()
    {
        Console.WriteLine("events page bytes on the wire / payload bytes (payload = the page JSON in structuredContent; wire = SSE frames of the JSON-RPC response, protocol 2025-11-25)");
        Console.WriteLine($"{"events",7} {"payload",9} {"wire",9} {"ratio",6} {"old wire",9} {"old ratio",9}");
        foreach (var count in new[] { 1, 10, 100 })
        {
            var page = new SessionToolResult(SessionId: SessionId, Status: "running", Events: [.. Enumerable.Range(0, count).Select(Event)], LastIndex: count - 1);
            var payload = JsonSerializer.SerializeToUtf8Bytes(page, McpJson.Options.GetTypeInfo(typeof(SessionToolResult))).Length;
            var wire = WireBytes(StructuredResult.Of(page));
            var oldWire = WireBytes(OldResult(page));
            Console.WriteLine($"{count,7} {payload,9} {wire,9} {(double)wire / payload,6:0.00} {oldWire,9} {(double)oldWire / payload,9:0.00}");
        }
    }

    /// <summary>A realistic mix: streamed text, a tool call, its result, a completion.</summary>
    private static SessionEvent Event(int index)
    {
        var at = new DateTimeOffset(2026, 11, 30, 22, 10, 0, TimeSpan.Zero).AddMilliseconds(index * 137.25);
        return (index % 4) switch
        {
            0 => new SessionEvent(index, at, "message", SessionId, Text: "Let me look at the failing test first, then the parser it exercises."),
            1 => new SessionEvent(index, at, "tool_call", SessionId, Tool: "bash", CallId: $"call_{index:x8}",
                Input: JsonElement.Parse("""{"command":"dotnet test tests/Parser.Tests --filter \"FullyQualifiedName~Quoted\"","description":"Run the quoted-string tests"}""")),
            2 => new SessionEvent(index, at, "tool_result", SessionId, Tool: "bash", CallId: $"call_{index - 1:x8}", IsError: false,
                Output: "Failed Parser.Tests.QuotedStrings.Escaped_quote_ends_the_token [3 ms]\n  Expected: \"a\\\"b\"\n  Actual:   \"a\\\"\"\n  at Parser.Tests.QuotedStrings.Escaped_quote_ends_the_token() in /workspace/src/QuotedStrings.cs:line 42\nTotal tests: 18. Passed: 17. Failed: 1."),
            _ => new SessionEvent(index, at, "completion", SessionId, Text: "Fixed the escape handling in Tokenizer.ReadQuoted: a backslash now escapes the next character. All 18 tests pass.",
                TokensIn: 5120, TokensOut: 384, CostUsd: 0.0123),
        };
    }

    /// <summary>What the server sent before: the same JSON twice, the text copy written with the default (escaping) encoder.</summary>
    private static CallToolResult OldResult(SessionToolResult page)
    {
        var options = new JsonSerializerOptions(McpJson.Options) { Encoder = null };
        var utf8 = JsonSerializer.SerializeToUtf8Bytes(page, options.GetTypeInfo(typeof(SessionToolResult)));
        return new CallToolResult { Content = [new TextContentBlock { Text = Encoding.UTF8.GetString(utf8) }], StructuredContent = JsonElement.Parse(utf8) };
    }

    /// <summary>
    /// The SSE frames of a POST carrying the result, as the SDK's Streamable HTTP transport writes them with an event
    /// store: <c>event: prime</c> with the stream's first id, then the message with the next id.
    /// </summary>
    private static int WireBytes(CallToolResult result)
    {
        JsonRpcMessage response = new JsonRpcResponse
        {
            Id = new RequestId(42),
            Result = JsonSerializer.SerializeToNode(result, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CallToolResult))),
        };
        var json = JsonSerializer.SerializeToUtf8Bytes(response, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage)));
        return Encoding.UTF8.GetByteCount("event: prime\ndata: \nid: 12-0\n\nevent: message\ndata: \nid: 12-1\n\n") + json.Length;
    }
}
