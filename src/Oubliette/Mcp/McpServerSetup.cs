using System.Text.Json;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;
using Oubliette.Auth;
using Oubliette.Errors;
using Oubliette.Hosting;
using Oubliette.Operations;

namespace Oubliette.Mcp;

/// <summary>Registers the MCP server: tools, the caller filter and the one place domain errors become tool errors.</summary>
public static class McpServerSetup
{
    public static IServiceCollection AddOublietteMcp(this IServiceCollection services)
    {
        services.AddScoped<CallerContext>();
        services.AddMcpServer(server =>
            {
                server.ServerInfo = new Implementation { Name = "oubliette", Version = typeof(McpServerSetup).Assembly.GetName().Version?.ToString(3) ?? "0" };
            })
            .WithHttpTransport(transport => transport.SessionMode = HttpServerSessionMode.Stateful)
            .WithTools<TokenTool>(McpJson.Options)
            .WithTools<ProjectTool>(McpJson.Options)
            .WithTools<WorkspaceTool>(McpJson.Options)
            .WithTools<ContainerTool>(McpJson.Options)
            .WithTools<SessionTool>(McpJson.Options)
            .WithTools<ConfigLimitsTool>(McpJson.Options)
            .WithTools<CallerToolResponseTool>(McpJson.Options)
            .WithRequestFilters(filters =>
            {
                filters.AddListToolsFilter(next => async (context, cancellationToken) =>
                {
                    var result = await next(context, cancellationToken);
                    var caller = OublietteClaims.ToCaller(context.User);
                    result.Tools = caller is { IsAgent: true }
                        ? AgentCalls.Visible(caller, result.Tools, context.Services!.GetRequiredService<Sessions.SessionService>())
                        : [.. result.Tools.Where(tool => caller is not null && (tool.Name == "caller_tool_response" ? !caller.Scope.IsReadOnly : MayEverUse(caller.Scope, tool.Name)))];
                    return result;
                });
                filters.AddCallToolFilter(next => async (context, cancellationToken) =>
                {
                    var caller = OublietteClaims.ToCaller(context.User);
                    if (caller is null)
                    {
                        return ToolError("unauthenticated: no token is attached to this call");
                    }

                    var callerContext = context.Services!.GetRequiredService<CallerContext>();
                    callerContext.Caller = caller;
                    try
                    {
                        if (caller.IsAgent && await AgentCalls.AttributeAsync(caller, context, callerContext, cancellationToken) is { } answered)
                        {
                            return answered;
                        }

                        return await next(context, cancellationToken);
                    }
                    catch (OublietteException exception)
                    {
                        if (caller.IsAgent && exception is ForbiddenException)
                        {
                            // What an agent tried and was refused is kept: it may be probing for a way out of its project.
                            context.Services!.GetRequiredService<AuditLog>().Write(new AuditEntry(
                                "gateway.mcp", "denied", caller.TokenId, caller.Scope.ToString(), context.Params?.Name, exception.Message));
                        }

                        return ToolError(exception.Message);
                    }
                    catch (JsonException exception)
                    {
                        return ToolError($"invalid arguments for '{context.Params?.Name}': {exception.Message}");
                    }
                    catch (ArgumentException exception)
                    {
                        return ToolError($"invalid arguments for '{context.Params?.Name}': {exception.Message}");
                    }
                });
            });
        return services;
    }

    /// <summary>Tools a scope can never use are hidden from <c>tools/list</c>; each action is still checked per call.</summary>
    private static bool MayEverUse(TokenScope scope, string tool) =>
        ActionCatalog.ActionsOf(tool) is var actions && (actions.Count == 0
            || actions.Any(action => PermissionPolicy.Allows(scope, ActionCatalog.ClassOf($"{tool}.{action}"), scope.ProjectId)));

    private static CallToolResult ToolError(string message) => new()
    {
        IsError = true,
        Content = [new TextContentBlock { Text = message }],
    };
}
