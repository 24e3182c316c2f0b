using System.ComponentModel;
using ModelContextProtocol.Server;
using Oubliette.Auth;
using Oubliette.Projects;
using Oubliette.Sessions;

namespace Oubliette.Mcp;

[McpServerToolType]
public sealed class ConfigLimitsTool(ProjectService projects, SessionService sessions, Authorizer authorizer, CallerContext callerContext)
{
    [McpServerTool(Name = "config_limits", UseStructuredContent = true)]
    [Description("Effective limits (max_recursion_depth, max_agents_per_session, max_cost_usd, max_active_sessions_per_project) with their source "
        + "(default or project); with session_id also the tree's current depth, descendants and cost. An agent gets its own session's by default.")]
    public async Task<ConfigLimitsResult> RunAsync(
        [Description("a project's UUID (default: the session's project; none: the server defaults)")] string? project_id = null,
        [Description("a session id: adds where it stands in its tree")] string? session_id = null,
        CancellationToken cancellationToken = default)
    {
        var caller = callerContext.Caller;
        session_id ??= callerContext.AgentSessionId;
        Guid? projectId = session_id is not null ? sessions.ProjectOf(session_id) : project_id is null ? caller.Scope.ProjectId : ProjectIds.Parse("project_id", project_id);
        if (projectId is null)
        {
            return new ConfigLimitsResult(null, Values(projects.DefaultLimits()), null);
        }

        authorizer.Demand(caller, "project.get", projectId);
        var project = await projects.RequireAsync(projectId.Value, cancellationToken);
        return new ConfigLimitsResult(projectId, Values(projects.LimitsOf(project)), session_id is null ? null : sessions.TreeOf(session_id));
    }

    private static Dictionary<string, LimitValue> Values(EffectiveLimits limits) => new()
    {
        ["max_recursion_depth"] = new(limits.MaxRecursionDepth, limits.Sources["max_recursion_depth"]),
        ["max_agents_per_session"] = new(limits.MaxAgentsPerSession, limits.Sources["max_agents_per_session"]),
        ["max_cost_usd"] = new(limits.MaxCostUsd, limits.Sources["max_cost_usd"]),
        ["max_active_sessions_per_project"] = new(limits.MaxActiveSessionsPerProject, limits.Sources["max_active_sessions_per_project"]),
    };
}

/// <summary>Result of <c>config_limits</c>.</summary>
public sealed record ConfigLimitsResult(Guid? ProjectId, IReadOnlyDictionary<string, LimitValue> Limits, SessionTree? Tree);

public sealed record LimitValue(double Value, string Source);
