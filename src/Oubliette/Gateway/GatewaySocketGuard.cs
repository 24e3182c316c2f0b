using System.Text.Encodings.Web;
using System.Text.Json;
using Oubliette.Agents;
using Oubliette.Operations;

namespace Oubliette.Gateway;

/// <summary>
/// The gateway socket serves agents only: there, <c>/llm/…</c> and <c>/mcp</c> answer and everything else (<c>/metrics</c>,
/// <c>/health</c>, <c>/ready</c>, unknown paths) is a 404, audited, before authentication or any endpoint runs.
/// <c>/metrics</c> would show every project's ids and spending to any container.
/// </summary>
public sealed class GatewaySocketGuard(RequestDelegate next, GatewayCredentials credentials, AuditLog audit)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (!GatewayEndpoints.IsGatewayConnection(context) || path.StartsWithSegments("/llm") || path.StartsWithSegments("/mcp"))
        {
            await next(context);
            return;
        }

        const string message = "the gateway socket serves agents only: /llm/<provider>/… and /mcp";
        var header = context.Request.Headers.Authorization.ToString();
        var projectId = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? credentials.Resolve(header[7..].Trim()) : null;
        audit.Write(new AuditEntry("gateway.route", "denied", projectId is { } id ? $"agent:{id:D}" : null, projectId is { } scope ? $"project:{scope:D}" : null,
            $"{context.Request.Method} {path}", $"404: {message}"));
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        context.Response.ContentType = "application/json";
        // Relaxed escaping: the message is read by people and agents ("container's", not "container\u0027s").
        await using var writer = new Utf8JsonWriter(context.Response.Body, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("type", "oubliette_gateway");
        writer.WriteString("message", message);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
