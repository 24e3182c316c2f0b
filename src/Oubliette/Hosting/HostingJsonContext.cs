using System.Text.Json.Serialization;

namespace Oubliette.Hosting;

internal sealed record ReadinessBody(string Status, IReadOnlyDictionary<string, string> Checks);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ReadinessBody))]
internal sealed partial class HostingJsonContext : JsonSerializerContext;
