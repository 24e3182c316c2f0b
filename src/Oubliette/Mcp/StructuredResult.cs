using System.Text;
using System.Text.Json;
using ModelContextProtocol.Protocol;

namespace Oubliette.Mcp;

/// <summary>
/// A tool result serialized once: the structured content and its text copy (for clients that read only text) come
/// from the same UTF-8 bytes. The SDK's own path serializes a result to a JSON element and then again to text, which
/// for a page of thousands of events is most of the cost of a poll.
/// </summary>
internal static class StructuredResult
{
    public static CallToolResult Of<T>(T value)
    {
        var utf8 = JsonSerializer.SerializeToUtf8Bytes(value, McpJson.Options.GetTypeInfo(typeof(T)));
        return new CallToolResult
        {
            Content = [new TextContentBlock { Text = Encoding.UTF8.GetString(utf8) }],
            StructuredContent = JsonElement.Parse(utf8),
        };
    }
}
