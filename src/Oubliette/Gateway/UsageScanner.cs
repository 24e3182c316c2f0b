using System.Text;
using System.Text.Json;

namespace Oubliette.Gateway;

/// <summary>
/// Reads token usage out of a model response as it streams past: OpenAI-style <c>usage.prompt_tokens/completion_tokens</c>
/// and Anthropic-style <c>usage.input_tokens/output_tokens</c>, in SSE <c>data:</c> lines or a plain JSON body.
/// </summary>
internal sealed class UsageScanner
{
    private readonly StringBuilder _line = new();
    private readonly StringBuilder _body = new();
    private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
    private readonly char[] _chars = new char[16384];

    public long InputTokens { get; private set; }
    public long OutputTokens { get; private set; }

    public void Feed(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var take = Math.Min(bytes.Length, 8192);
            var count = _decoder.GetChars(bytes[..take], _chars, flush: false);
            bytes = bytes[take..];
            foreach (var character in _chars.AsSpan(0, count))
            {
                if (_body.Length < 1_048_576)
                {
                    _body.Append(character);
                }

                if (character == '\n')
                {
                    ScanLine(_line.ToString());
                    _line.Clear();
                }
                else
                {
                    _line.Append(character);
                }
            }
        }
    }

    /// <summary>End of the response: a non-streamed JSON body is read whole.</summary>
    public void Complete()
    {
        ScanLine(_line.ToString());
        if (InputTokens == 0 && OutputTokens == 0)
        {
            ScanJson(_body.ToString());
        }
    }

    private void ScanLine(string line)
    {
        if (line.StartsWith("data:", StringComparison.Ordinal) && line.Contains("usage", StringComparison.Ordinal))
        {
            ScanJson(line[5..].Trim());
        }
    }

    private void ScanJson(string json)
    {
        if (!json.Contains("usage", StringComparison.Ordinal))
        {
            return;
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            Visit(document.RootElement);
        }
        catch (JsonException)
        {
            // Not JSON (an SSE comment, a partial body): nothing to count.
        }
    }

    private void Visit(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        foreach (var property in element.EnumerateObject())
        {
            if (property.Name == "usage" && property.Value.ValueKind == JsonValueKind.Object)
            {
                var usage = property.Value;
                InputTokens = Math.Max(InputTokens, Number(usage, "prompt_tokens") + Number(usage, "input_tokens"));
                OutputTokens = Math.Max(OutputTokens, Number(usage, "completion_tokens") + Number(usage, "output_tokens"));
            }
            else
            {
                Visit(property.Value);
            }
        }
    }

    private static long Number(JsonElement usage, string name) =>
        usage.TryGetProperty(name, out var value) && value.TryGetInt64(out var number) ? number : 0;
}
