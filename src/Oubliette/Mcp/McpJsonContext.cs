using System.Text.Json.Serialization;

namespace Oubliette.Mcp;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TokenToolResult))]
[JsonSerializable(typeof(ProjectToolResult))]
[JsonSerializable(typeof(WorkspaceToolResult))]
[JsonSerializable(typeof(ContainerToolResult))]
[JsonSerializable(typeof(SessionToolResult))]
[JsonSerializable(typeof(ScheduleToolResult))]
internal sealed partial class McpJsonContext : JsonSerializerContext;
