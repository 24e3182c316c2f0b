using System.Text.Json;

namespace Oubliette.Sessions;

/// <summary>
/// Tools an MCP client (the caller) lends a session: the agent sees each as <c>&lt;caller_id&gt;_&lt;name&gt;</c>, and
/// its calls are pushed to that client, which alone may answer them.
/// </summary>
public sealed record CallerBinding(string CallerId, IReadOnlyList<CallerToolDefinition> Tools, ISessionSubscriber Caller)
{
    /// <summary>The name the agent's MCP client lists (OpenCode prefixes it with its server name).</summary>
    public string ExposedName(CallerToolDefinition tool) => $"{CallerId}_{tool.Name}";

    public CallerToolDefinition? Find(string exposedName) =>
        Tools.FirstOrDefault(tool => string.Equals(ExposedName(tool), exposedName, StringComparison.Ordinal));
}

public sealed record CallerToolDefinition(string Name, string? Description, JsonElement? InputSchema);

/// <summary>What the caller is asked (pushed as <c>caller_tool_request</c>).</summary>
public sealed record CallerToolRequest(string SessionId, string RequestId, string Tool, JsonElement Arguments);

/// <summary>The caller's answer: a result, or an error the agent sees as a tool error.</summary>
public sealed record CallerToolAnswer(JsonElement? Result, string? Error);
