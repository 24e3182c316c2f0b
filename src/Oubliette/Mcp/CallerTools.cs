using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Oubliette.Errors;
using Oubliette.Sessions;

namespace Oubliette.Mcp;

/// <summary>Reads <c>caller_id</c> + <c>caller_tools</c> of spawn/message into a binding, naming whatever is wrong.</summary>
internal static partial class CallerTools
{
    public static CallerBinding? Parse(string? callerId, JsonElement? tools, ISessionSubscriber? caller, int maxBytes = int.MaxValue)
    {
        if (callerId is null && tools is null)
        {
            return null;
        }

        RequireSize("caller_tools", tools, maxBytes);

        if (callerId is null || !CallerIdPattern().IsMatch(callerId))
        {
            throw new InvalidArgumentException($"caller_id '{callerId}' is not valid: 1-32 letters, digits or '-' (required with caller_tools)");
        }

        if (caller is null)
        {
            throw new ForbiddenException("caller tools are lent by MCP clients, not by agents");
        }

        if (tools is not { ValueKind: JsonValueKind.Array } list || list.GetArrayLength() == 0)
        {
            throw new InvalidArgumentException("caller_tools must be a non-empty array of {name, description?, input_schema?}");
        }

        var parsed = new List<CallerToolDefinition>();
        foreach (var (tool, position) in list.EnumerateArray().Select((tool, position) => (tool, position)))
        {
            var name = tool.ValueKind == JsonValueKind.Object && tool.TryGetProperty("name", out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            if (name is null || !ToolNamePattern().IsMatch(name))
            {
                throw new InvalidArgumentException($"caller_tools[{position}].name '{name}' is not valid: 1-64 letters, digits, '_' or '-'");
            }

            if (parsed.Any(existing => existing.Name == name))
            {
                throw new InvalidArgumentException($"caller_tools: '{name}' is listed twice");
            }

            JsonElement? schema = null;
            if (tool.TryGetProperty("input_schema", out var given))
            {
                schema = given.ValueKind == JsonValueKind.Object && (!given.TryGetProperty("type", out var type) || type.ValueEquals("object"))
                    ? given.Clone()
                    : throw new InvalidArgumentException($"caller_tools[{position}].input_schema must be a JSON schema of type object");
            }

            var description = tool.TryGetProperty("description", out var text) && text.ValueKind == JsonValueKind.String ? text.GetString() : null;
            parsed.Add(new CallerToolDefinition(name, description, schema));
        }

        return new CallerBinding(callerId, parsed, caller);
    }

    /// <summary>Refuses a caller payload (serialized JSON) larger than <c>server.max_caller_payload_bytes</c>.</summary>
    public static void RequireSize(string field, JsonElement? payload, int maxBytes)
    {
        if (payload is { } given && JsonMarshal.GetRawUtf8Value(given).Length is var bytes && bytes > maxBytes)
        {
            throw new InvalidArgumentException($"'{field}' is {bytes} bytes of JSON, more than the {maxBytes} allowed (server.max_caller_payload_bytes)");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9-]{1,32}$")]
    private static partial Regex CallerIdPattern();

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex ToolNamePattern();
}
