using System.Text.Json.Serialization;

namespace Oubliette.Mcp;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TokenToolResult))]
[JsonSerializable(typeof(ProjectToolResult))]
internal sealed partial class McpJsonContext : JsonSerializerContext;
