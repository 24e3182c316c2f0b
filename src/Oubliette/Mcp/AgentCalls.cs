using System.Text.Json;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Oubliette.Agents.OpenCode;
using Oubliette.Auth;
using Oubliette.Errors;
using Oubliette.Sessions;

namespace Oubliette.Mcp;

/// <summary>
/// What agents (callers through the gateway) see and may call: <c>session</c>, <c>project</c> (get),
/// <c>config_limits</c>, and the caller tools lent to the sessions of their project. Every call is attributed to the
/// calling session first; a caller tool's call goes to its caller and waits for the answer.
/// </summary>
internal static class AgentCalls
{
    private static readonly HashSet<string> AgentTools = new(StringComparer.Ordinal) { "session", "project", "config_limits" };
    private static readonly TimeSpan AttributionWait = TimeSpan.FromSeconds(5);
    private static readonly JsonElement AnyObject = JsonDocument.Parse("""{"type":"object"}""").RootElement.Clone();

    public static IList<Tool> Visible(Caller caller, IList<Tool> tools, SessionService sessions)
    {
        var visible = tools.Where(tool => AgentTools.Contains(tool.Name)).ToList();
        foreach (var (sessionId, binding) in sessions.CallerBindings(caller.Scope.ProjectId!.Value))
        {
            foreach (var lent in binding.Tools.Where(lent => visible.All(tool => tool.Name != binding.ExposedName(lent))))
            {
                visible.Add(new Tool
                {
                    Name = binding.ExposedName(lent),
                    Description = $"{lent.Description ?? "A tool of the client that started this session."} (lent to session {sessionId} only)",
                    InputSchema = lent.InputSchema ?? AnyObject,
                });
            }
        }

        return visible;
    }

    /// <summary>Attributes the call to its session and answers caller tools; returns null for Oubliette's own tools.</summary>
    public static async Task<CallToolResult?> AttributeAsync(
        Caller caller, RequestContext<CallToolRequestParams> context, CallerContext callerContext, CancellationToken cancellationToken)
    {
        var services = context.Services!;
        var sessions = services.GetRequiredService<SessionService>();
        var name = context.Params?.Name ?? "";
        var projectId = caller.Scope.ProjectId!.Value;
        var isCallerTool = !AgentTools.Contains(name);
        if (isCallerTool && sessions.CallerBindings(projectId).All(pair => pair.Binding.Find(name) is null))
        {
            throw new ForbiddenException($"tool '{name}' is not available to agents (they may call session, project get, config_limits and the caller tools lent to their session)");
        }

        var arguments = JsonSerializer.SerializeToElement(context.Params?.Arguments ?? new Dictionary<string, JsonElement>(), McpJson.Options);
        var agentToolName = $"{OpenCodeConfigWriter.McpServerName}_{name}";
        var sessionId = await services.GetRequiredService<AgentToolCalls>().ClaimAsync(projectId, agentToolName, arguments, AttributionWait, cancellationToken);
        callerContext.AgentSessionId = sessionId;
        if (!isCallerTool)
        {
            if (name == "project" && !(arguments.TryGetProperty("action", out var action) && action.ValueEquals("get")))
            {
                throw new ForbiddenException("project: agents may only get their project");
            }

            return null;
        }

        var binding = sessions.CallerOf(sessionId);
        if (binding?.Find(name) is not { } lent)
        {
            throw new ForbiddenException($"tool '{name}' was lent to another session, not to {sessionId}");
        }

        var answer = await services.GetRequiredService<CallerToolBroker>().RequestAsync(sessionId, binding, lent.Name, arguments, cancellationToken);
        var text = answer.Error ?? (answer.Result is { ValueKind: JsonValueKind.String } result ? result.GetString()! : answer.Result?.GetRawText() ?? "null");
        return new CallToolResult { IsError = answer.Error is not null, Content = [new TextContentBlock { Text = text }] };
    }
}
