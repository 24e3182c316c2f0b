using System.Text.Json;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Oubliette.Auth;
using Oubliette.Errors;
using Oubliette.Hosting;
using Oubliette.Operations;

namespace Oubliette.Mcp;

/// <summary>Registers the MCP server: tools, the caller filter and the one place domain errors become tool errors.</summary>
public static partial class McpServerSetup
{
    public static IServiceCollection AddOublietteMcp(this IServiceCollection services)
    {
        services.AddScoped<CallerContext>();
        services.PostConfigure<McpServerOptions>(ToolSchemas.Apply);
        services.AddSingleton<AgentToolListChanges>();
        services.AddSingleton<Hosting.LiveMcpSessions>();
#pragma warning disable MCPEXP002 // The session handler is experimental; it only wraps the SDK's own run to know which sessions are live.
        services.AddOptions<HttpServerTransportOptions>().Configure<Hosting.LiveMcpSessions>((transport, live) => transport.RunSessionHandler = live.RunAsync);
#pragma warning restore MCPEXP002
        services.AddHttpContextAccessor();
        services.AddSingleton<McpEventStore>();
#pragma warning disable MCP9006 // resumable streams are the stateful (initialize-handshake) sessions' way to survive a dropped stream
        services.AddOptions<HttpServerTransportOptions>().Configure<McpEventStore>((transport, store) => transport.EventStreamStore = store);
#pragma warning restore MCP9006
        services.AddMcpServer(server =>
            {
                server.ServerInfo = new Implementation { Name = "oubliette", Version = typeof(McpServerSetup).Assembly.GetName().Version?.ToString(3) ?? "0" };
                // Sessions are resources a client subscribes to (SessionResources).
                server.Capabilities ??= new ServerCapabilities();
                server.Capabilities.Resources = new ResourcesCapability { Subscribe = true };
            })
            // Initialize-handshake clients (2024-11-05 … 2025-11-25) get a stateful session; 2026-07-28 clients are served per request.
            .WithHttpTransport(transport => transport.SessionMode = HttpServerSessionMode.StatefulForInitializeClients)
            .WithTools<TokenTool>(McpJson.Options)
            .WithTools<ProjectTool>(McpJson.Options)
            .WithTools<WorkspaceTool>(McpJson.Options)
            .WithTools<ContainerTool>(McpJson.Options)
            .WithTools<SessionTool>(McpJson.Options)
            .WithTools<ScheduleTool>(McpJson.Options)
            .WithTools<ConfigLimitsTool>(McpJson.Options)
            .WithTools<CallerToolResponseTool>(McpJson.Options)
            .WithMessageFilters(filters => filters.AddIncomingFilter(next => (context, cancellationToken) =>
            {
                // The SDK fails an unknown level while reading it, as an internal error: name it as the client's mistake.
                if (context.JsonRpcMessage is JsonRpcRequest { Method: "logging/setLevel" } request)
                {
                    ClientLogLevel.Require(request.Params);
                }

                return next(context, cancellationToken);
            }))
            .WithSessionResources()
            .WithRequestFilters(filters =>
            {
                filters.AddListToolsFilter(next => async (context, cancellationToken) =>
                {
                    var result = await next(context, cancellationToken);
                    var caller = OublietteClaims.ToCaller(context.User);
                    if (caller is { IsAgent: true })
                    {
                        context.Services!.GetRequiredService<AgentToolListChanges>().Listen(caller.Scope.ProjectId!.Value, context.Server);
                    }

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
                    // Long calls (waits, long polls, caller tools) keep a client that asked for progress from timing out.
                    await using var heartbeat = ProgressHeartbeat.Start(context.Server, context.Params, Describe(context.Params?.Name, context.Params?.Arguments), cancellationToken);
                    try
                    {
                        // Arguments are checked against the tool's schema before anything runs: one message shape for every tool.
                        if (context.MatchedPrimitive is McpServerTool tool
                            && ArgumentCheck.Problem(tool.ProtocolTool.Name, tool.ProtocolTool.InputSchema, context.Params?.Arguments) is { } problem)
                        {
                            return ToolError(problem);
                        }

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
                        // The schema check above names most mistakes; what binding still refuses (a number out of range)
                        // is named by its path, without .NET type names.
                        return ToolError($"invalid arguments for '{context.Params?.Name}': {(exception.Path is { Length: > 2 } path ? $"'{path.TrimStart('$', '.')}' " : "")}does not fit its type");
                    }
                    catch (ArgumentException exception)
                    {
                        return ToolError($"invalid arguments for '{context.Params?.Name}': {exception.Message}");
                    }
                    // Protocol errors (an unknown tool, say) are the SDK's to answer as JSON-RPC errors.
                    catch (Exception exception) when (exception is not ModelContextProtocol.McpException
                        && (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested))
                    {
                        // Unexpected: the operator gets the whole exception in the log, the client what failed in plain words.
                        var what = Describe(context.Params?.Name, context.Params?.Arguments);
                        LogToolFailed(context.Services!.GetRequiredService<ILoggerFactory>().CreateLogger("Oubliette.Mcp.ToolCalls"), what, exception);
                        return ToolError($"internal error while running {what}: {PlainReason(exception)}; see the server log");
                    }
                });
            });
        return services;
    }

    /// <summary>Tools a scope can never use are hidden from <c>tools/list</c>; each action is still checked per call.</summary>
    private static bool MayEverUse(TokenScope scope, string tool) =>
        ActionCatalog.ActionsOf(tool) is var actions && (actions.Count == 0
            || actions.Any(action => PermissionPolicy.Allows(scope, ActionCatalog.ClassOf($"{tool}.{action}"), scope.ProjectId)));

    /// <summary>"session spawn": the tool and, when it names one, its action.</summary>
    internal static string Describe(string? tool, IDictionary<string, JsonElement>? arguments) =>
        arguments is not null && arguments.TryGetValue("action", out var action) && action.ValueKind == JsonValueKind.String
            && action.GetString() is { Length: > 0 and <= 40 } name && name.All(char.IsAsciiLetterOrDigit)
            ? $"{tool ?? "a tool"} {name}"
            : tool ?? "a tool";

    /// <summary>
    /// What went wrong in words: the innermost message, one line, bounded; a timeout says so instead of "task canceled".
    /// Messages only, never type names or stack traces.
    /// </summary>
    internal static string PlainReason(Exception exception)
    {
        var inner = exception;
        while (inner is AggregateException { InnerException: { } aggregated })
        {
            inner = aggregated;
        }

        if (inner is OperationCanceledException or TimeoutException)
        {
            return "an operation timed out";
        }

        if (inner is IOException && inner.InnerException is System.Net.Sockets.SocketException socket)
        {
            inner = socket;
        }

        var line = inner.Message.Split('\n', 2)[0].Trim();
        return line.Length switch
        {
            0 => "unexpected failure",
            > 300 => line[..300] + "…",
            _ => line,
        };
    }

    [LoggerMessage(EventId = 90, Level = LogLevel.Error, Message = "unexpected failure while running {What}")]
    private static partial void LogToolFailed(ILogger logger, string what, Exception exception);

    private static CallToolResult ToolError(string message) => new()
    {
        IsError = true,
        Content = [new TextContentBlock { Text = message }],
    };
}
