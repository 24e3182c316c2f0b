using System.Buffers;
using Oubliette.Configuration;
using Oubliette.Gateway;

namespace Oubliette.Hosting;

/// <summary>
/// Reads a POST body in full before the endpoint runs. Kestrel cancels pending reads once when graceful shutdown starts
/// (to stop idle keep-alive connections); a body still arriving at that moment would fail. Reading it here, retrying the
/// cancelled read, lets a request that was in flight at SIGTERM finish as SPEC §9 asks. The size cap still applies: a body
/// over it is answered 413 with the limit and its config key (never a 500), and an agent's model call over it ends its
/// session (see <see cref="LlmRelay.RefuseOversizedAsync"/>).
/// </summary>
public sealed partial class RequestBodyBufferingMiddleware(
    RequestDelegate next, OublietteConfig config, Agents.GatewayCredentials credentials, ILogger<RequestBodyBufferingMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (!HttpMethods.IsPost(context.Request.Method) || context.Request.ContentLength == 0 || !WillBeRead(context))
        {
            await next(context);
            return;
        }

        try
        {
            await BufferAsync(context);
        }
        catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await RefuseOversizedAsync(context);
            return;
        }

        await next(context);
    }

    /// <summary>
    /// Only a body an endpoint reads is held: an authenticated caller's, or a model call presenting a container's
    /// credential on the gateway socket. Anyone else (no token, no endpoint, /llm over TCP) is answered without it: each
    /// of their connections could otherwise hold max_request_body_bytes of the server's memory for nothing.
    /// </summary>
    private bool WillBeRead(HttpContext context)
    {
        if (context.GetEndpoint() is null)
        {
            return false;
        }

        if (context.Request.Path.StartsWithSegments("/llm"))
        {
            return GatewayEndpoints.IsGatewayConnection(context) && credentials.Identify(LlmRelay.PresentedCredential(context.Request)) is not null;
        }

        return context.User.Identity?.IsAuthenticated == true;
    }

    private static async Task BufferAsync(HttpContext context)
    {
        var reader = context.Request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(context.RequestAborted);
            if (result.IsCompleted)
            {
                var body = result.Buffer.ToArray();
                reader.AdvanceTo(result.Buffer.End);
                context.Request.Body = new MemoryStream(body, writable: false);
                return;
            }

            // Keep everything buffered until the body is complete (a cancelled read simply reads again).
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private async Task RefuseOversizedAsync(HttpContext context)
    {
        var limit = config.Server.MaxRequestBodyBytes;
        LogOversized(logger, context.Request.Method, context.Request.Path.Value ?? "", limit);
        if (GatewayEndpoints.IsGatewayConnection(context) && context.Request.Path.StartsWithSegments("/llm"))
        {
            await context.RequestServices.GetRequiredService<LlmRelay>().RefuseOversizedAsync(context, limit);
            return;
        }

        await JsonRpcError.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, JsonRpcError.TooLarge,
            $"request body too large: the limit is {limit} bytes (server.max_request_body_bytes)", context.RequestAborted);
    }

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "request {Method} {Path}: body over server.max_request_body_bytes ({Limit} bytes); answered 413")]
    private static partial void LogOversized(ILogger logger, string method, string path, long limit);
}
