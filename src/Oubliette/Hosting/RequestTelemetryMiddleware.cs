using System.Diagnostics;
using System.Security.Claims;
using Oubliette.Operations;

namespace Oubliette.Hosting;

/// <summary>
/// Per request: a request id (kept from <c>X-Request-Id</c> when sane), the access-log line, and the request metrics
/// labelled by route template so label values stay bounded.
/// </summary>
public sealed partial class RequestTelemetryMiddleware(RequestDelegate next, OublietteMetrics metrics, ILogger<RequestTelemetryMiddleware> logger)
{
    private const string RequestIdHeader = "X-Request-Id";

    public async Task InvokeAsync(HttpContext context)
    {
        var requestId = context.Request.Headers[RequestIdHeader].ToString();
        if (requestId.Length is 0 or > 64 || requestId.Any(character => !char.IsAsciiLetterOrDigit(character) && character is not '-' and not '_'))
        {
            requestId = context.TraceIdentifier;
        }

        context.Response.Headers[RequestIdHeader] = requestId;
        var started = Stopwatch.GetTimestamp();
        var status = StatusCodes.Status500InternalServerError;
        try
        {
            await next(context);
            status = context.Response.StatusCode;
        }
        finally
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            var path = RouteLabel(context);
            var method = context.Request.Method;
            metrics.Requests.WithLabels(method, path, StatusText(status)).Inc();
            metrics.RequestDuration.WithLabels(method, path).Observe(elapsed.TotalSeconds);
            LogRequest(logger, requestId, method, context.Request.Path.Value ?? "", status, elapsed.TotalMilliseconds,
                context.User.FindFirstValue(ClaimTypes.NameIdentifier) ?? "-");
        }
    }

    private static string RouteLabel(HttpContext context) =>
        (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText is { } template
            ? (template.Length > 1 ? template.TrimEnd('/') : template)
            : "unmatched";

    private static string StatusText(int status) => status switch
    {
        200 => "200",
        202 => "202",
        401 => "401",
        429 => "429",
        _ => status.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "request {RequestId} {Method} {Path} -> {Status} in {ElapsedMs:0.0} ms token={TokenId}")]
    private static partial void LogRequest(ILogger logger, string requestId, string method, string path, int status, double elapsedMs, string tokenId);
}
