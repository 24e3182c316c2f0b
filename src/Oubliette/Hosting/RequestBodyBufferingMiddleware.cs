using System.Buffers;

namespace Oubliette.Hosting;

/// <summary>
/// Reads a POST body in full before the endpoint runs. Kestrel cancels pending reads once when graceful shutdown starts
/// (to stop idle keep-alive connections); a body still arriving at that moment would fail. Reading it here, retrying the
/// cancelled read, lets a request that was in flight at SIGTERM finish as SPEC §9 asks. The size cap still applies.
/// </summary>
public sealed class RequestBodyBufferingMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (!HttpMethods.IsPost(context.Request.Method) || context.Request.ContentLength == 0)
        {
            await next(context);
            return;
        }

        var reader = context.Request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(context.RequestAborted);
            if (result.IsCompleted)
            {
                var body = result.Buffer.ToArray();
                reader.AdvanceTo(result.Buffer.End);
                context.Request.Body = new MemoryStream(body, writable: false);
                break;
            }

            // Keep everything buffered until the body is complete (a cancelled read simply reads again).
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }

        await next(context);
    }
}
