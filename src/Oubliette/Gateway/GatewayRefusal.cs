using System.Text.Encodings.Web;
using System.Text.Json;
using Oubliette.Operations;

namespace Oubliette.Gateway;

/// <summary>How the gateway says no: an audit line (refusals under 500; never a secret) and a JSON error body.</summary>
internal static class GatewayRefusal
{
    public static async Task WriteAsync(HttpContext context, AuditLog audit, string action, Guid? projectId, int status, string message)
    {
        if (status < StatusCodes.Status500InternalServerError)
        {
            audit.Write(new AuditEntry(action, "denied", projectId is { } id ? $"agent:{id:D}" : null, projectId is { } scope ? $"project:{scope:D}" : null,
                $"{context.Request.Method} {context.Request.Path}", $"{status}: {message}"));
        }

        context.Response.StatusCode = status;
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
