using System.Text.Json;

namespace Oubliette.Agents.OpenCode;

/// <summary>
/// Maps OpenCode's <c>/event</c> stream (every session of the server) to <see cref="AgentEvent"/>s, keyed by the
/// agent session id. Stateful per stream: a tool call is reported once, when its input is known.
/// </summary>
internal sealed class OpenCodeEventMapper
{
    private readonly HashSet<string> _announcedCalls = new(StringComparer.Ordinal);
    private readonly HashSet<string> _finishedCalls = new(StringComparer.Ordinal);

    public AgentEvent? Map(JsonElement root)
    {
        if (!root.TryGetProperty("type", out var typeElement) || !root.TryGetProperty("properties", out var properties))
        {
            return null;
        }

        var type = typeElement.GetString();
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
                var attempt = retry.TryGetProperty("attempt", out var number) ? number.GetRawText() : "?";
                return new AgentEvent(sessionId, AgentEventKind.Retry, Text: $"model call failed (attempt {attempt}); the agent retries: {Text(retry, "message")}");
            case "session.idle":
                return new AgentEvent(sessionId, AgentEventKind.Idle);
            case "session.error":
                return new AgentEvent(sessionId, AgentEventKind.Error, Text: ErrorText(properties));
            default:
                return null;
        }
    }

    private AgentEvent? MapPart(string sessionId, JsonElement part)
    {
        switch (Text(part, "type"))
        {
            case "text":
                var text = Text(part, "text");
                return string.IsNullOrEmpty(text) ? null : new AgentEvent(sessionId, AgentEventKind.Message, Text: text);
            case "tool" when part.TryGetProperty("state", out var state):
                var callId = Text(part, "callID") ?? "";
                var tool = Text(part, "tool");
                var status = Text(state, "status");
                JsonElement? input = state.TryGetProperty("input", out var given) ? given.Clone() : null;
                if (status == "running" && _announcedCalls.Add(callId))
                {
                    return new AgentEvent(sessionId, AgentEventKind.ToolCall, Tool: tool, CallId: callId, Input: input);
                }

                if (status is "completed" or "error" && _finishedCalls.Add(callId))
                {
                    var output = status == "completed" ? Text(state, "output") : Text(state, "error");
                    return new AgentEvent(sessionId, AgentEventKind.ToolResult, Text: output, Tool: tool, CallId: callId, Input: input, IsError: status == "error");
                }

                return null;
            default:
                return null;
        }
    }

    private static string ErrorText(JsonElement properties)
    {
        if (!properties.TryGetProperty("error", out var error))
        {
            return "the agent reported an error";
        }

        if (error.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object && Text(data, "message") is { } message)
        {
            return message;
        }

        return Text(error, "name") ?? error.GetRawText();
    }

    private static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
