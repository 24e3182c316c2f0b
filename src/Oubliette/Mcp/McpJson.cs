using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Oubliette.Mcp;

/// <summary>
/// Wire format of tool results: snake_case as SPEC.md names the fields, nulls left out (so <see cref="ToolSchemas"/>
/// makes every nullable field optional), quotes and non-ASCII text written as themselves (results are never embedded in
/// HTML, and a model reads <c>\"</c> better than <c>\u0022</c>).
/// </summary>
internal static class McpJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = JsonTypeInfoResolver.Combine(McpJsonContext.Default, new DefaultJsonTypeInfoResolver()),
    };
}
