using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Features;
using Oubliette.Agents;
using Oubliette.Configuration;
using Oubliette.Operations;
using Oubliette.Sessions;

namespace Oubliette.Gateway;

/// <summary>
/// <c>/llm/&lt;provider&gt;/…</c> on the gateway socket: forwards an agent's model call to the configured provider with
/// the real key and the model's extra headers, streams the answer back unchanged, and meters its tokens and cost.
/// </summary>
public sealed partial class LlmRelay(
    OublietteConfig config,
    GatewayCredentials credentials,
    SessionService sessions,
    IHttpClientFactory httpClients,
    AuditLog audit,
    IHostApplicationLifetime lifetime,
    ILogger<LlmRelay> logger)
{
    public const string HttpClientName = "oubliette-llm";
    private static readonly HashSet<string> HopHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Authorization", "x-api-key", "Content-Length", "Connection", "Transfer-Encoding", "Accept-Encoding", "Keep-Alive", "Upgrade",
    };

    public async Task RelayAsync(HttpContext context, string provider, string path)
    {
        if (IdentityOf(context) is not { ProjectId: var projectId, HostKey: var hostKey })
        {
            await RefuseAsync(context, null, StatusCodes.Status401Unauthorized, "the gateway needs this container's credential");
            return;
        }

        if (!config.Credentials.Providers.TryGetValue(provider, out var credential))
        {
            await RefuseAsync(context, projectId, StatusCodes.Status404NotFound, $"provider '{provider}' is not configured");
            return;
        }

        // Only the model call OpenCode makes is relayed: the key opens every other endpoint of the provider too (files,
        // batches, fine-tuning, the account's models...), none of which the gateway could meter.
        var modelPath = ModelPath(credential.Kind);
        if (!HttpMethods.IsPost(context.Request.Method) || path != modelPath)
        {
            await RefuseAsync(context, projectId, StatusCodes.Status404NotFound,
                $"the gateway relays model calls only (POST /llm/{provider}/{modelPath}), not {Shown(context.Request.Method)} /llm/{provider}/{Shown(path)}");
            return;
        }

        // Every model call belongs to a live session of this container's project: a call naming none would spend
        // outside every session's budget (a side door), so it is refused before anything reaches the provider.
        var (agentSessionId, refusal) = sessions.GatewaySession(projectId, hostKey, Header(context, "x-session-id"), Header(context, "x-parent-session-id"));
        if (agentSessionId is null)
        {
            await RefuseAsync(context, projectId, StatusCodes.Status403Forbidden, refusal ?? "no live session");
            return;
        }

        if (sessions.BudgetRefusal(projectId, agentSessionId) is { } budget)
        {
            await RefuseAsync(context, projectId, StatusCodes.Status402PaymentRequired, budget);
            return;
        }

        // The budget is checked before a call and charged after it: calls made at once would all pass the check. A tree
        // has at most MaxCallsInFlightPerTree at a time, so it overshoots max_cost_usd by at most that many calls.
        var tree = sessions.RootOfAgentSession(projectId, agentSessionId) ?? agentSessionId;
        if (_inFlight.AddOrUpdate(tree, 1, (_, count) => count + 1) > MaxCallsInFlightPerTree)
        {
            EndCall(tree);
            await RefuseAsync(context, projectId, StatusCodes.Status429TooManyRequests,
                $"session tree {tree} already has {MaxCallsInFlightPerTree} model calls in flight; max_cost_usd is checked before each call, so no more run at once");
            return;
        }

        try
        {
            await RelayCheckedAsync(context, provider, projectId, credential, modelPath, agentSessionId);
        }
        finally
        {
            EndCall(tree);
        }
    }

    private const int MaxCallsInFlightPerTree = 8;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _inFlight = new(StringComparer.Ordinal);

    private void EndCall(string tree)
    {
        if (_inFlight.AddOrUpdate(tree, 0, (_, count) => count - 1) <= 0)
        {
            _inFlight.TryRemove(new KeyValuePair<string, int>(tree, 0));
        }
    }

    private async Task RelayCheckedAsync(HttpContext context, string provider, Guid projectId, ProviderCredential credential, string modelPath, string agentSessionId)
    {

        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        var (requested, model) = ModelOf(body, provider);
        if (model is null)
        {
            // A model the operator did not configure has no price: served, it would be billed $0 and never reach max_cost_usd.
            await RefuseAsync(context, projectId, StatusCodes.Status403Forbidden,
                $"model '{Shown(requested ?? "")}' is not a configured model of provider '{provider}' (models.models); the gateway serves only the models it meters");
            return;
        }

        var target = new Uri($"{(credential.BaseUrl ?? DefaultBaseUrl(credential.Kind)).TrimEnd('/')}/{modelPath}");
        var content = credential.Kind != "anthropic" && UsageRequested(body) is { } rewritten
            ? new ByteArrayContent(rewritten)
            : new ByteArrayContent(body.GetBuffer(), 0, (int)body.Length);
        using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = content };
        foreach (var (name, values) in context.Request.Headers)
        {
            if (HopHeaders.Contains(name))
            {
                continue;
            }

            if (!request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
            {
                request.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }

        if (credential.Kind == "anthropic")
        {
            request.Headers.TryAddWithoutValidation("x-api-key", credential.ApiKey);
        }
        else
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential.ApiKey);
        }

        foreach (var (name, value) in model?.ExtraHeaders ?? new Dictionary<string, string>())
        {
            request.Headers.Remove(name);
            request.Headers.TryAddWithoutValidation(name, value);
        }

        HttpResponseMessage response;
        try
        {
            response = await httpClients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        }
        catch (HttpRequestException exception)
        {
            LogUpstreamFailed(logger, provider, exception.Message);
            await RefuseAsync(context, projectId, StatusCodes.Status502BadGateway, $"provider '{provider}' could not be reached: {exception.Message}");
            return;
        }

        using (response)
        {
            await StreamBackAsync(context, response, projectId, agentSessionId, model);
        }
    }

    private async Task StreamBackAsync(HttpContext context, HttpResponseMessage response, Guid projectId, string? agentSessionId, ModelConfig? model)
    {
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (!HopHeaders.Contains(name))
            {
                context.Response.Headers[name] = values.ToArray();
            }
        }

        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var scanner = new UsageScanner();
        // The usage comes last: an agent that hangs up before it has still been billed by the provider, so the answer
        // is read to its end (within UsageDrainLimit of the hang-up) and metered even when nobody receives it any more.
        // The upstream read never takes the client's token: cancelling it would drop the provider's connection.
        using var drain = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping);
        using var onHangUp = context.RequestAborted.Register(() => drain.CancelAfter(UsageDrainLimit));
        await using var upstream = await response.Content.ReadAsStreamAsync(drain.Token);
        var buffer = new byte[16384];
        var clientGone = false;
        try
        {
            int read;
            while ((read = await upstream.ReadAsync(buffer, drain.Token)) > 0)
            {
                scanner.Feed(buffer.AsSpan(0, read));
                if (clientGone)
                {
                    continue;
                }

                try
                {
                    await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
                    await context.Response.Body.FlushAsync(context.RequestAborted);
                }
                catch (Exception exception) when (exception is OperationCanceledException or IOException || context.RequestAborted.IsCancellationRequested)
                {
                    clientGone = true;
                }
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or HttpRequestException
            && (clientGone || context.RequestAborted.IsCancellationRequested))
        {
            // The provider took longer than UsageDrainLimit after the agent left (or the server stops): metered as far as it got.
        }
        finally
        {
            scanner.Complete();
            if (scanner.InputTokens > 0 || scanner.OutputTokens > 0)
            {
                var cost = model?.Cost.Of(scanner.InputTokens, scanner.OutputTokens) ?? 0;
                sessions.RecordUsage(projectId, agentSessionId, scanner.InputTokens, scanner.OutputTokens, cost);
            }
        }
    }

    /// <summary>How long an answer the agent hung up on is still read for its usage.</summary>
    private static readonly TimeSpan UsageDrainLimit = TimeSpan.FromSeconds(60);

    /// <summary>
    /// An OpenAI-style streamed call reports its usage only with <c>stream_options.include_usage</c>: OpenCode asks for it,
    /// a call made by hand may not. Returns the body with it set, or null when it is already set or nothing streams.
    /// </summary>
    private static byte[]? UsageRequested(MemoryStream body)
    {
        try
        {
            if (JsonNode.Parse(body.GetBuffer().AsSpan(0, (int)body.Length)) is not JsonObject root
                || root["stream"] is not JsonValue stream || !stream.TryGetValue<bool>(out var streaming) || !streaming)
            {
                return null;
            }

            if (root["stream_options"] is JsonObject options && options["include_usage"] is JsonValue include && include.TryGetValue<bool>(out var asked) && asked)
            {
                return null;
            }

            if (root["stream_options"] is not JsonObject existing)
            {
                existing = new JsonObject();
                root["stream_options"] = existing;
            }

            existing["include_usage"] = true;
            return JsonSerializer.SerializeToUtf8Bytes(root);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The model the call names, and its configuration when it is one of the provider's configured models.</summary>
    private (string? Requested, ModelConfig? Model) ModelOf(MemoryStream body, string provider)
    {
        try
        {
            using var document = JsonDocument.Parse(body.GetBuffer().AsMemory(0, (int)body.Length));
            var requested = document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("model", out var value)
                && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            return (requested, config.Models.Models.Values.FirstOrDefault(model => model.Provider == provider && model.Model == requested));
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    /// <summary>The one endpoint OpenCode's provider packages call under the credential's base URL.</summary>
    private static string ModelPath(string kind) => kind == "anthropic" ? "messages" : "chat/completions";

    private static string Shown(string value) => value.Length > 80 ? value[..80] + "…" : value;

    private static string DefaultBaseUrl(string kind) => kind == "anthropic" ? "https://api.anthropic.com/v1" : "https://api.openai.com/v1";

    /// <summary>
    /// An over-cap model call (see <c>RequestBodyBufferingMiddleware</c>): refused with 413, and the session that made
    /// it (x-session-id, within the credential's project) fails with the reason, so its agent does not retry forever.
    /// </summary>
    public async Task RefuseOversizedAsync(HttpContext context, long limit)
    {
        var message = $"the conversation is over the gateway's request cap of {limit} bytes (server.max_request_body_bytes); the turn is ended";
        if (IdentityOf(context) is { ProjectId: var projectId, HostKey: var hostKey })
        {
            sessions.FailFromGateway(projectId, hostKey, Header(context, "x-session-id"), message);
            await RefuseAsync(context, projectId, StatusCodes.Status413PayloadTooLarge, message);
            return;
        }

        await RefuseAsync(context, null, StatusCodes.Status413PayloadTooLarge, message);
    }

    /// <summary>The project and container whose credential the call presents (Bearer, or x-api-key as Anthropic clients send it).</summary>
    private GatewayIdentity? IdentityOf(HttpContext context) => credentials.Identify(PresentedCredential(context.Request));

    /// <summary>The credential a model call presents: Bearer, or x-api-key as Anthropic clients send it.</summary>
    public static string PresentedCredential(HttpRequest request) =>
        request.Headers.Authorization.ToString() is { Length: > 7 } bearer && bearer.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            ? bearer[7..].Trim()
            : request.Headers["x-api-key"].ToString();

    private static string? Header(HttpContext context, string name) =>
        context.Request.Headers[name].ToString() is { Length: > 0 } value ? value : null;

    private Task RefuseAsync(HttpContext context, Guid? projectId, int status, string message) =>
        GatewayRefusal.WriteAsync(context, audit, "gateway.llm", projectId, status, message);

    [LoggerMessage(EventId = 50, Level = LogLevel.Warning, Message = "model provider {Provider} could not be reached: {Reason}")]
    private static partial void LogUpstreamFailed(ILogger logger, string provider, string reason);
}
