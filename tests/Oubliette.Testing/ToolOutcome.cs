using System.Text.Json;

namespace Oubliette.Testing;

/// <summary>What a tool call returned: error flag, text content and structured JSON (when not an error).</summary>
public sealed record ToolOutcome(bool IsError, string Text, JsonElement? Structured)
{
    public JsonElement Json => Structured ?? throw new InvalidOperationException($"the tool returned no structured content (error={IsError}): {Text}");
}
