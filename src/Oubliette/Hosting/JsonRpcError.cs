using System.Text.Json;

namespace Oubliette.Hosting;

/// <summary>Writes HTTP-level refusals (401, 429, 413) as JSON-RPC error bodies, which MCP clients can show.</summary>
internal static class JsonRpcError
{
    public const int Unauthorized = -32001;
    public const int RateLimited = -32002;
    public const int TooLarge = -32003;

    public static async Task WriteAsync(HttpContext context, int status, int code, string message, CancellationToken cancellationToken)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteString("jsonrpc", "2.0");
        writer.WriteStartObject("error");
        writer.WriteNumber("code", code);
        writer.WriteString("message", message);
        writer.WriteEndObject();
        writer.WriteNull("id");
        writer.WriteEndObject();
        await writer.FlushAsync(cancellationToken);
    }
}
