using System.ComponentModel;
using System.Text.Json;
using ModelContextProtocol.Server;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Sessions;

namespace Oubliette.Mcp;

[McpServerToolType]
public sealed class CallerToolResponseTool(SessionService sessions, CallerToolBroker broker, Authorizer authorizer, CallerContext callerContext, OublietteConfig config)
{
    [McpServerTool(Name = "caller_tool_response", UseStructuredContent = true)]
    [Description("Answers a caller_tool_request (pushed as notifications/message, logger oubliette.caller_tool) that an agent made of one of "
        + "your caller tools: {session_id, request_id, result?} or {session_id, request_id, error} (the agent sees an error as a tool error). "
        + "Only the client that lent the tools may answer.")]
    public CallerToolResponseResult Run(
        McpServer server,
        [Description("the session whose agent asked")] string session_id,
        [Description("the request_id of the caller_tool_request")] string request_id,
        [Description("what the tool returns to the agent (any JSON)")] JsonElement? result = null,
        [Description("an error message for the agent instead of a result")] string? error = null)
    {
        // Oversized answers are refused before anything is looked up, and the request stays open for a proper one.
        CallerTools.RequireSize("result", result, config.Server.MaxCallerPayloadBytes);
        if (error is not null && error.Length > config.Server.MaxCallerPayloadBytes / 3 && System.Text.Encoding.UTF8.GetByteCount(error) is var bytes && bytes > config.Server.MaxCallerPayloadBytes)
        {
            throw new Errors.InvalidArgumentException($"'error' is {bytes} bytes (UTF-8), more than the {config.Server.MaxCallerPayloadBytes} allowed (server.max_caller_payload_bytes)");
        }

        authorizer.Demand(callerContext.Caller, "session.message", sessions.ProjectOf(session_id));
        broker.Answer(McpSessionSubscriber.KeyOf(server), session_id, request_id, result, error);
        return new CallerToolResponseResult(session_id, request_id, Delivered: true);
    }
}

public sealed record CallerToolResponseResult(string SessionId, string RequestId, bool Delivered);
