using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Oubliette.Auth;
using Oubliette.Errors;
using Oubliette.Hosting;
using Oubliette.Sessions;

namespace Oubliette.Mcp;

/// <summary>
/// Each session is an MCP resource, <c>oubliette://sessions/&lt;session_id&gt;</c>: <c>resources/read</c> gives what
/// <c>session get</c> gives, and a subscriber is told <c>notifications/resources/updated</c> whenever the session records
/// an event other than streamed text (read what is new with <c>session events</c>). Initialize-handshake clients subscribe with
/// <c>resources/subscribe</c> (delivered on their GET stream, resumable); 2026-07-28 clients with <c>subscriptions/listen</c>
/// (delivered on that request's own response stream). Subscribing needs read access to the session's project, as
/// <c>session get</c> does; agents cannot subscribe (nothing is pushed to an agent).
/// </summary>
internal static class SessionResources
{
    public const string UriPrefix = "oubliette://sessions/";

    public static IMcpServerBuilder WithSessionResources(this IMcpServerBuilder builder) => builder
        .WithListResourcesHandler((_, _) => ValueTask.FromResult(new ListResourcesResult { Resources = [] }))
        .WithListResourceTemplatesHandler((_, _) => ValueTask.FromResult(new ListResourceTemplatesResult
        {
            ResourceTemplates =
            [
                new ResourceTemplate
                {
                    UriTemplate = UriPrefix + "{session_id}",
                    Name = "session",
                    Description = "An agent session (as session get returns it); subscribe to be told when it records events, read them with session events",
                    MimeType = "application/json",
                },
            ],
        }))
        .WithReadResourceHandler(ReadAsync)
        .WithSubscribeToResourcesHandler(SubscribeAsync)
        .WithUnsubscribeFromResourcesHandler(UnsubscribeAsync)
        .WithSubscriptionsListenHandler(ListenAsync);

    private static ValueTask<ReadResourceResult> ReadAsync(RequestContext<ReadResourceRequestParams> request, CancellationToken cancellationToken)
    {
        var (sessions, sessionId) = Authorize(request, request.Params?.Uri);
        var view = JsonSerializer.Serialize(SessionView.From(sessions.Get(sessionId)), McpJson.Options);
        return ValueTask.FromResult(new ReadResourceResult
        {
            Contents = [new TextResourceContents { Uri = request.Params!.Uri, MimeType = "application/json", Text = view }],
        });
    }

    private static ValueTask<EmptyResult> SubscribeAsync(RequestContext<SubscribeRequestParams> request, CancellationToken cancellationToken)
    {
        var uri = request.Params?.Uri;
        var (sessions, sessionId) = Authorize(request, uri);
        // Subscriptions of MCP sessions that ended (deleted or expired) go now, not only at the session's next event:
        // a client that subscribes and deletes its MCP session in a loop would otherwise pile them up on an idle session.
        var live = request.Services!.GetRequiredService<LiveMcpSessions>();
        sessions.Unwatch(sessionId, key => key.StartsWith(ResourceKeyPrefix, StringComparison.Ordinal) && !live.Contains(key[ResourceKeyPrefix.Length..]));
        sessions.Watch(sessionId, new Subscriber(request.Server, uri!, ResourceKey(request.Server), subscriptionId: null));
        return ValueTask.FromResult(new EmptyResult());
    }

    private static ValueTask<EmptyResult> UnsubscribeAsync(RequestContext<UnsubscribeRequestParams> request, CancellationToken cancellationToken)
    {
        var (sessions, sessionId) = Authorize(request, request.Params?.Uri);
        sessions.Unwatch(sessionId, ResourceKey(request.Server));
        return ValueTask.FromResult(new EmptyResult());
    }

    /// <summary>
    /// A 2026-07-28 listen: every requested session URI is checked first (one bad URI refuses the whole request, naming it),
    /// then acknowledged, then updates stream until the client closes the request.
    /// </summary>
    private static async ValueTask<EmptyResult> ListenAsync(RequestContext<SubscriptionsListenRequestParams> request, CancellationToken cancellationToken)
    {
        var requested = request.Params?.Notifications?.ResourceSubscriptions ?? [];
        var watched = requested.Distinct(StringComparer.Ordinal).Select(uri => (Uri: uri, Target: Authorize(request, uri))).ToList();
        var subscriptionId = request.JsonRpcRequest.Id.Id switch
        {
            string text => JsonValue.Create(text),
            long number => (JsonNode?)JsonValue.Create(number),
            _ => null,
        };
        var key = $"listen:{Guid.NewGuid():N}";
        var granted = new SubscriptionsListenNotifications { ResourceSubscriptions = watched.Count > 0 ? [.. watched.Select(item => item.Uri)] : null };
        var acknowledged = JsonSerializer.SerializeToNode(new SubscriptionsAcknowledgedNotificationParams { Notifications = granted }, McpJsonUtilities.DefaultOptions)!.AsObject();
        acknowledged["_meta"] = new JsonObject { [MetaKeys.SubscriptionId] = subscriptionId?.DeepClone() };
        // request.Server is bound to this request: what it sends goes out on the listen request's own response stream
        // (a message given a context of its own is refused by the SDK).
        await request.Server.SendMessageAsync(
            new JsonRpcNotification { Method = NotificationMethods.SubscriptionsAcknowledgedNotification, Params = acknowledged },
            cancellationToken);
        try
        {
            foreach (var (uri, (sessions, sessionId)) in watched)
            {
                sessions.Watch(sessionId, new Subscriber(request.Server, uri, key, subscriptionId));
            }

            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client closed the listen request.
        }
        finally
        {
            foreach (var (_, (sessions, sessionId)) in watched)
            {
                try
                {
                    sessions.Unwatch(sessionId, key);
                }
                catch (NotFoundException)
                {
                    // Forgotten meanwhile (cleanup).
                }
            }
        }

        return new EmptyResult();
    }

    private const string ResourceKeyPrefix = "resource:";

    private static string ResourceKey(McpServer server) => ResourceKeyPrefix + server.SessionId;

    /// <summary>The session a URI names, after checking the caller may read it; any problem is a -32602 naming the URI.</summary>
    private static (SessionService Sessions, string SessionId) Authorize<T>(RequestContext<T> request, string? uri)
    {
        if (uri is null || !uri.StartsWith(UriPrefix, StringComparison.Ordinal) || uri.Length == UriPrefix.Length || uri.IndexOf('/', UriPrefix.Length) >= 0)
        {
            throw new McpProtocolException($"resource uri '{uri}' is not valid: expected {UriPrefix}<session_id>", McpErrorCode.InvalidParams);
        }

        var caller = OublietteClaims.ToCaller(request.User)
            ?? throw new McpProtocolException("unauthenticated: no token is attached to this request", McpErrorCode.InvalidRequest);
        if (caller.IsAgent)
        {
            throw new McpProtocolException($"resource '{uri}': agents cannot subscribe to or read session resources; they use session events and wait", McpErrorCode.InvalidParams);
        }

        var services = request.Services!;
        var sessions = services.GetRequiredService<SessionService>();
        var sessionId = uri[UriPrefix.Length..];
        try
        {
            services.GetRequiredService<Authorizer>().Demand(caller, "session.get", sessions.ProjectOf(sessionId));
        }
        catch (OublietteException exception)
        {
            throw new McpProtocolException($"resource '{uri}': {exception.Message}", McpErrorCode.InvalidParams);
        }

        return (sessions, sessionId);
    }

    /// <summary>Announces updates of one session resource to one subscriber (a legacy session or a listen request).</summary>
    private sealed class Subscriber(McpServer server, string uri, string key, JsonNode? subscriptionId) : ISessionSubscriber
    {
        public string Key { get; } = key;

        public bool Wants(string type) => type != "delta";

        public Task NotifyAsync(SessionEvent sessionEvent, CancellationToken cancellationToken)
        {
            var payload = new JsonObject { ["uri"] = uri };
            if (subscriptionId is not null)
            {
                payload["_meta"] = new JsonObject { [MetaKeys.SubscriptionId] = subscriptionId.DeepClone() };
            }

            return server.SendMessageAsync(
                new JsonRpcNotification { Method = NotificationMethods.ResourceUpdatedNotification, Params = payload },
                cancellationToken);
        }

        public Task NotifyCallerToolRequestAsync(CallerToolRequest request, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
