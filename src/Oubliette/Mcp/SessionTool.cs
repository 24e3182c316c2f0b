using System.ComponentModel;
using System.Text.Json;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Projects;
using Oubliette.Sessions;

namespace Oubliette.Mcp;

[McpServerToolType]
public sealed class SessionTool(SessionService sessions, Authorizer authorizer, CallerContext callerContext, OublietteConfig config)
{
    [McpServerTool(Name = "session", UseStructuredContent = true, OutputSchemaType = typeof(SessionToolResult))]
    [Description("Agent sessions. spawn {project_id, prompt, workspace_id?, create_workspace?, new_session?, model?} returns at once; "
        + "message {session_id | project_id, message}; spawn and message take caller_id + caller_tools; get {session_id}; list {project_id, status?}; events {session_id, since_index?, max_events?, wait_seconds?, include_children?, cursors?}; "
        + "wait {session_id, until: idle|completed, timeout_seconds}; end {session_id}; cleanup {project_id?, max_age_hours?}. "
        + "tool_call, tool_result, completion and error events are also pushed as notifications/message (logger oubliette.session).")]
    public async Task<CallToolResult> RunAsync(
        McpServer server,
        [Description("spawn | message | get | list | events | wait | end | cleanup")] string action,
        [Description("spawn, list, cleanup; message without session_id")] string? project_id = null,
        [Description("message, get, events, wait, end")] string? session_id = null,
        [Description("spawn: what the agent should do")] string? prompt = null,
        [Description("message: the follow-up (spawn accepts it as prompt)")] string? message = null,
        [Description("spawn, message: a workspace of the project (default: the default workspace)")] string? workspace_id = null,
        [Description("spawn: run in a new workspace")] bool? create_workspace = null,
        [Description("spawn: never resume an idle session")] bool? new_session = null,
        [Description("spawn: a model alias (default: the project's)")] string? model = null,
        [Description("spawn: off | low | medium | high (tightens the tools the agent may use)")] string? autonomy = null,
        [Description("spawn: off | low | medium | high (sent to the model as the reasoning variant)")] string? reasoning = null,
        [Description("list: only sessions in this status")] string? status = null,
        [Description("events: the last index already seen (-1 for all buffered)")] long? since_index = null,
        [Description("events: at most this many (never skips: ask again from last_index)")] int? max_events = null,
        [Description("events: when nothing is newer than since_index, wait up to this many seconds for the next event (long poll; 0..300); text still streaming is held up to 20 ms so it comes in fewer events")] double? wait_seconds = null,
        [Description("wait: idle or completed")] string? until = null,
        [Description("wait: give up after this many seconds (default 60)")] int? timeout_seconds = null,
        [Description("cleanup: forget ended sessions older than this (default 24)")] double? max_age_hours = null,
        [Description("spawn, message: your name for the tools you lend the agent (letters, digits, '-'); the agent sees <caller_id>_<name>")] string? caller_id = null,
        [Description("spawn, message: [{name, description?, input_schema?}] tools the agent may call; each call is pushed to you as a caller_tool_request "
            + "(logger oubliette.caller_tool) and answered with caller_tool_response")] JsonElement? caller_tools = null,
        [Description("events: also the events of every descendant session, each tagged with its session_id")] bool? include_children = null,
        [Description("events with include_children: {session_id: last index seen} as returned in cursors by the previous poll")] Dictionary<string, long>? cursors = null,
        CancellationToken cancellationToken = default)
    {
        var verb = ToolArguments.Action("session", action, ["spawn", "message", "get", "list", "events", "wait", "end", "cleanup"]);
        var caller = callerContext.Caller;
        var agentSession = callerContext.AgentSessionId;
        if (caller.IsAgent && verb is not ("spawn" or "message" or "events" or "wait" or "get"))
        {
            throw new ForbiddenException($"session {verb}: agents may spawn, message, get, wait for and read the events of sessions, nothing else");
        }

        // Oversized input is refused before anything else happens (nothing is looked up, created or started).
        SessionService.RequirePromptSize("prompt", prompt, config.Server.MaxPromptBytes);
        SessionService.RequirePromptSize("message", message, config.Server.MaxPromptBytes);

        if (caller.IsAgent && session_id is not null)
        {
            sessions.RequireSameIsolatedWorkspace(session_id, agentSession);
        }

        // An agent's spawn makes a child of the calling session; nothing is pushed to an agent.
        var subscriber = caller.IsAgent ? null : McpSessionSubscriber.OfSession(server, lendsTools: caller_id is not null || caller_tools is not null);
        var lent = CallerTools.Parse(caller_id, caller_tools, subscriber, config.Server.MaxCallerPayloadBytes);
        switch (verb)
        {
            case "spawn":
            {
                var projectId = caller.IsAgent && project_id is null ? caller.Scope.ProjectId!.Value : ProjectIds.Parse("project_id", project_id);
                authorizer.Demand(caller, "session.spawn", projectId);
                var spawned = await sessions.SpawnAsync(
                    new SpawnRequest(projectId, prompt ?? message, OptionalId("workspace_id", workspace_id), create_workspace ?? false, new_session ?? false, model, autonomy, reasoning,
                        ParentSessionId: agentSession, Caller: lent),
                    caller.TokenId, subscriber, cancellationToken);
                return StructuredResult.Of(Spawned(spawned));
            }

            case "message" when session_id is null:
            {
                if (caller.IsAgent)
                {
                    throw new InvalidArgumentException("session message: an agent names the child session (session_id); use spawn for a new child");
                }

                var projectId = ProjectIds.Parse("project_id", project_id ?? throw new InvalidArgumentException("session message: 'session_id' or 'project_id' is required"));
                authorizer.Demand(caller, "session.message", projectId);
                var spawned = await sessions.SpawnAsync(
                    new SpawnRequest(projectId, message ?? prompt, OptionalId("workspace_id", workspace_id), false, false, model, Caller: lent),
                    caller.TokenId, subscriber, cancellationToken);
                return StructuredResult.Of(Spawned(spawned));
            }

            case "message":
                authorizer.Demand(caller, "session.message", sessions.ProjectOf(session_id));
                if (caller.IsAgent && !sessions.IsDescendant(session_id, agentSession))
                {
                    throw new ForbiddenException($"session {session_id} is not a descendant of the calling session {agentSession}; an agent messages only its own children");
                }

                return StructuredResult.Of(Spawned(await sessions.MessageAsync(session_id, message ?? prompt, subscriber, cancellationToken, lent)));
            case "get":
                authorizer.Demand(caller, "session.get", sessions.ProjectOf(session_id));
                return StructuredResult.Of(new SessionToolResult(Session: SessionView.From(sessions.Get(session_id!))));
            case "list":
            {
                var projectId = ProjectIds.Parse("project_id", project_id);
                authorizer.Demand(caller, "session.list", projectId);
                return StructuredResult.Of(new SessionToolResult(Sessions: [.. sessions.List(projectId, status).Select(SessionView.From)]));
            }

            case "events" when include_children == true:
            {
                authorizer.Demand(caller, "session.events", sessions.ProjectOf(session_id));
                var tree = sessions.TreeEvents(session_id!, since_index ?? -1, cursors, max_events, subscriber);
                return StructuredResult.Of(new SessionToolResult(SessionId: session_id, Events: tree.Events, Cursors: tree.Cursors, Dropped: tree.Dropped > 0 ? tree.Dropped : null), complete: caller.IsAgent);
            }

            case "events":
            {
                authorizer.Demand(caller, "session.events", sessions.ProjectOf(session_id));
                var waitSeconds = caller.IsAgent && wait_seconds > AgentWaitSeconds ? AgentWaitSeconds : wait_seconds;
                var (page, current) = await sessions.EventsAsync(session_id!, since_index ?? -1, max_events, waitSeconds, subscriber, cancellationToken);
                return StructuredResult.Of(new SessionToolResult(SessionId: session_id, Status: current, Events: page.Events, LastIndex: page.LastIndex,
                    Dropped: page.Dropped > 0 ? page.Dropped : null, FirstIndex: page.Dropped > 0 ? page.FirstIndex : null), complete: caller.IsAgent);
            }

            case "wait":
            {
                authorizer.Demand(caller, "session.wait", sessions.ProjectOf(session_id));
                // An agent's MCP client gives up on a call after 60 s: its waits end before that.
                var seconds = caller.IsAgent ? Math.Min(timeout_seconds ?? AgentWaitSeconds, AgentWaitSeconds) : timeout_seconds;
                var waited = await sessions.WaitAsync(session_id!, until, seconds, cancellationToken);
                return StructuredResult.Of(new SessionToolResult(SessionId: waited.SessionId, Status: waited.Status, Reached: waited.Reached, LastEventIndex: waited.LastEventIndex), complete: caller.IsAgent);
            }

            case "end":
                authorizer.Demand(caller, "session.end", sessions.ProjectOf(session_id));
                return StructuredResult.Of(new SessionToolResult(Session: SessionView.From(await sessions.EndAsync(session_id!, caller.TokenId, cancellationToken))));
            default:
            {
                Guid? projectId = project_id is null ? null : ProjectIds.Parse("project_id", project_id);
                authorizer.Demand(caller, "session.cleanup", projectId ?? (caller.Scope.IsGlobal ? Guid.Empty : null));
                return StructuredResult.Of(new SessionToolResult(Removed: sessions.Cleanup(projectId, max_age_hours)));
            }
        }
    }

    /// <summary>The longest an agent's wait or events long poll lasts (its MCP client's timeout is set above this).</summary>
    public const int AgentWaitSeconds = 50;

    private static Guid? OptionalId(string field, string? value) => value is null ? null : ProjectIds.Parse(field, value);

    private static SessionToolResult Spawned(SpawnResult spawned) =>
        new(spawned.SessionId, spawned.Status, spawned.Resumed, spawned.WorkspaceId, spawned.LastEventIndex);
}
