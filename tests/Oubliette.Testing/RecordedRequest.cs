using System.Text.Json;

namespace Oubliette.Testing;

/// <summary>A request the scripted model received: path, headers (lower-case names) and JSON body.</summary>
public sealed record RecordedRequest(string Path, IReadOnlyDictionary<string, string> Headers, JsonElement Body, bool IsTitleRequest)
{
    public string AllText => Body.GetRawText();
}
