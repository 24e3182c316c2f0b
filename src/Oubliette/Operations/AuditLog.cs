using System.Text.Json;
using System.Text.Json.Serialization;

namespace Oubliette.Operations;

/// <summary>
/// Appends JSON lines to <c>data/logs/audit.log</c> (0600). Written by the server and by CLI verbs alike; each line is a
/// single append so concurrent writers never interleave within a line.
/// </summary>
public sealed class AuditLog(string path, TimeProvider time)
{
    private readonly Lock _gate = new();

    public string Path => path;

    public void Write(AuditEntry entry)
    {
        var line = JsonSerializer.Serialize(
            new AuditLine(time.GetUtcNow(), entry.Action, entry.Result, entry.TokenId, entry.Scope, entry.Target, entry.Detail),
            AuditJsonContext.Default.AuditLine) + "\n";
        var bytes = System.Text.Encoding.UTF8.GetBytes(line);
        lock (_gate)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) ?? ".");
            using var stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Append,
                Access = FileAccess.Write,
                Share = FileShare.ReadWrite,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            stream.Write(bytes);
        }
    }
}

internal sealed record AuditLine(
    DateTimeOffset Time,
    string Action,
    string Result,
    string? TokenId,
    string? Scope,
    string? Target,
    string? Detail);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AuditLine))]
internal sealed partial class AuditJsonContext : JsonSerializerContext;
