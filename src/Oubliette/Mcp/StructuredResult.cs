using System.Text;
using System.Text.Json;
using ModelContextProtocol.Protocol;

namespace Oubliette.Mcp;

/// <summary>
/// A tool result serialized once into its structured content; its text copy (for clients that read only text) is a
/// plain rendering of the same fields (<see cref="ResultText"/>), not a second copy of the JSON.
/// </summary>
internal static class StructuredResult
{
    // complete: the text copy is the whole JSON, for agents, whose MCP client (OpenCode) gives the model only the text
    // and whose bytes never leave the machine.
    public static CallToolResult Of<T>(T value, bool complete = false)
    {
        var utf8 = JsonSerializer.SerializeToUtf8Bytes(value, McpJson.Options.GetTypeInfo(typeof(T)));
        var structured = JsonElement.Parse(utf8);
        return new CallToolResult
        {
            Content = [new TextContentBlock { Text = complete ? Encoding.UTF8.GetString(utf8) : ResultText.Render(structured, utf8.Length) }],
            StructuredContent = structured,
        };
    }
}
