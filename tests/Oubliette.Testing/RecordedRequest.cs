using System.Text.Json;
using System.Text.RegularExpressions;

namespace Oubliette.Testing;

/// <summary>A request the scripted model received: path, headers (lower-case names) and JSON body.</summary>
public sealed partial record RecordedRequest(string Path, IReadOnlyDictionary<string, string> Headers, JsonElement Body, bool IsTitleRequest)
{
    public string AllText => Body.GetRawText();

    private IEnumerable<JsonElement> Messages =>
        Body.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array ? messages.EnumerateArray() : [];

    /// <summary>The raw JSON of the conversation's first user message (its prompt).</summary>
    public string FirstUserMessage => Messages.FirstOrDefault(message => Role(message) == "user") is { ValueKind: JsonValueKind.Object } first ? first.GetRawText() : "";

    /// <summary>How many model answers the conversation already holds.</summary>
    public int AssistantTurns => Messages.Count(message => Role(message) == "assistant");

    /// <summary>The text of the last tool result the agent sent back (OpenAI's role "tool", or Anthropic's tool_result).</summary>
    public string LastToolResult => Messages.LastOrDefault(message => Role(message) == "tool" || message.GetRawText().Contains("\"tool_result\"", StringComparison.Ordinal)) is
        { ValueKind: JsonValueKind.Object } last ? last.GetRawText() : "";

    /// <summary>Session ids (gogol_…) in the last tool result, in order.</summary>
    public IReadOnlyList<string> SessionIdsInLastToolResult => [.. SessionId().Matches(LastToolResult).Select(match => match.Value)];

    private static string? Role(JsonElement message) =>
        message.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String ? role.GetString() : null;

    [GeneratedRegex("gogol_[0-9]{8}_[0-9]{6}_[0-9a-f]{8}")]
    private static partial Regex SessionId();
}
