using System.Text.Json.Serialization;

namespace Oubliette.Hosting;

internal sealed record ReadinessBody(string Status, IReadOnlyDictionary<string, string> Checks);

internal sealed record HealthBody(string Status, string Version);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ReadinessBody))]
[JsonSerializable(typeof(HealthBody))]
internal sealed partial class HostingJsonContext : JsonSerializerContext;
