using System.Text.Json.Serialization;

namespace Oubliette.Sessions;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SessionMetadata))]
internal sealed partial class SessionJsonContext : JsonSerializerContext;
