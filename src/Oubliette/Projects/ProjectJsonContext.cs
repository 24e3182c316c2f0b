using System.Text.Json.Serialization;

namespace Oubliette.Projects;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(ProjectMetadata))]
internal sealed partial class ProjectJsonContext : JsonSerializerContext;
