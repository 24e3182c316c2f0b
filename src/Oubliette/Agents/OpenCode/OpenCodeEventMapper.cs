using System.Text.Json;

namespace Oubliette.Agents.OpenCode;

/// <summary>
/// Maps OpenCode's <c>/event</c> stream (every session of the server) to <see cref="AgentEvent"/>s, keyed by the
/// agent session id. Stateful per stream: a tool call is reported once, when its input is known.
/// </summary>
/// <remarks>
/// Texts (replies, tool outputs, errors) and tool inputs are read only up to <c>maxTextBytes</c> and marked truncated
/// beyond it, so a multi-megabyte event never becomes a multi-megabyte string that the session would cut anyway. The
/// parts of the user's own messages (OpenCode echoes the prompt) are not the agent's words and are not mapped.
/// </remarks>
internal sealed class OpenCodeEventMapper(int maxTextBytes = int.MaxValue)
{
    /// <summary>How many user message ids are remembered: a part follows its message at once, so a few suffice.</summary>
    private const int RememberedUserMessages = 256;

    /// <summary>The calls of these tools keep their whole input: the gateway matches an agent's call of them by it.</summary>
    private static readonly string OwnToolPrefix = OpenCodeConfigWriter.McpServerName + "_";

    private readonly HashSet<string> _announcedCalls = new(StringComparer.Ordinal);
    private readonly HashSet<string> _finishedCalls = new(StringComparer.Ordinal);
    private readonly HashSet<string> _userMessages = new(StringComparer.Ordinal);
    private readonly Queue<string> _userMessageOrder = new();

    public AgentEvent? Map(JsonElement root)
    {
        if (!root.TryGetProperty("type", out var typeElement) || !root.TryGetProperty("properties", out var properties))
        {
            return null;
        }

        var type = typeElement.GetString();
        if (type == "message.updated")
        {
            RememberUserMessage(properties);
            return null;
        }

        var sessionId = properties.TryGetProperty("sessionID", out var id) ? id.GetString() : null;
        if (sessionId is null)
        {
            return null;
        }

        switch (type)
        {
            case "message.part.delta" when Text(properties, "field") == "text":
                return new AgentEvent(sessionId, AgentEventKind.Delta, Text: Text(properties, "delta"));
            case "message.part.updated" when properties.TryGetProperty("part", out var part):
                return MapPart(sessionId, part);
            case "session.status" when properties.TryGetProperty("status", out var status) && Text(status, "type") == "busy":
                return new AgentEvent(sessionId, AgentEventKind.Busy);
            case "session.status" when properties.TryGetProperty("status", out var retry) && Text(retry, "type") == "retry":
                var attempt = retry.TryGetProperty("attempt", out var number) && number.ValueKind == JsonValueKind.Number ? number.GetRawText() : "?";
                var reason = Bounded(retry, "message", out var cut);
                return new AgentEvent(sessionId, AgentEventKind.Retry, Text: $"model call failed (attempt {attempt}); the agent retries: {reason}", Truncated: cut);
            case "session.idle":
                return new AgentEvent(sessionId, AgentEventKind.Idle);
            case "session.error":
                var error = ErrorText(properties, out var errorCut);
                return new AgentEvent(sessionId, AgentEventKind.Error, Text: error, Truncated: errorCut);
            default:
                return null;
        }
    }

    private AgentEvent? MapPart(string sessionId, JsonElement part)
    {
        switch (Text(part, "type"))
        {
            case "text" when Text(part, "messageID") is not { } messageId || !_userMessages.Contains(messageId):
                var text = Bounded(part, "text", out var cut);
                return string.IsNullOrEmpty(text) ? null : new AgentEvent(sessionId, AgentEventKind.Message, Text: text, Truncated: cut);
            case "tool" when part.TryGetProperty("state", out var state):
                var callId = Text(part, "callID") ?? "";
                var tool = Text(part, "tool");
                var status = Text(state, "status");
                if (status == "running" && _announcedCalls.Add(callId))
                {
                    var inputCut = false;
                    JsonElement? input = !state.TryGetProperty("input", out var given) ? null
                        : tool?.StartsWith(OwnToolPrefix, StringComparison.Ordinal) == true ? given.Clone()
                        : BoundedText.Truncate(given, maxTextBytes, out inputCut);
                    return new AgentEvent(sessionId, AgentEventKind.ToolCall, Tool: tool, CallId: callId, Input: input, Truncated: inputCut);
                }

                if (status is "completed" or "error" && _finishedCalls.Add(callId))
                {
                    var output = Bounded(state, status == "completed" ? "output" : "error", out var outputCut);
                    return new AgentEvent(sessionId, AgentEventKind.ToolResult, Text: output, Tool: tool, CallId: callId, IsError: status == "error", Truncated: outputCut);
                }

                return null;
            default:
                return null;
        }
    }

    private void RememberUserMessage(JsonElement properties)
    {
        if (properties.TryGetProperty("info", out var info) && Text(info, "role") == "user" && Text(info, "id") is { } id && _userMessages.Add(id))
        {
            _userMessageOrder.Enqueue(id);
            if (_userMessageOrder.Count > RememberedUserMessages)
            {
                _userMessages.Remove(_userMessageOrder.Dequeue());
            }
        }
    }

    private string ErrorText(JsonElement properties, out bool truncated)
    {
        truncated = false;
        if (!properties.TryGetProperty("error", out var error) || error.ValueKind != JsonValueKind.Object)
        {
            return "the agent reported an error";
        }

        if (error.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object && Bounded(data, "message", out truncated) is { } message)
        {
            return message;
        }

        return Bounded(error, "name", out truncated) ?? BoundedText.RawJson(error, maxTextBytes, out truncated);
    }

    /// <summary>A string property read only up to the byte limit.</summary>
    private string? Bounded(JsonElement element, string property, out bool truncated)
    {
        truncated = false;
        return element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? BoundedText.FromJsonString(value, maxTextBytes, out truncated)
            : null;
    }

    private static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
