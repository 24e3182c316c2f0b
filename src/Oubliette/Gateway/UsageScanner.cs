using System.Text;
using System.Text.Json;

namespace Oubliette.Gateway;

/// <summary>
/// Reads token usage out of a model response as it streams past: OpenAI-style <c>usage.prompt_tokens/completion_tokens</c>
/// and Anthropic-style <c>usage.input_tokens/output_tokens</c>, in SSE <c>data:</c> lines or a plain JSON body.
/// </summary>
internal sealed class UsageScanner
{
    /// <summary>What is kept of a body and of one line: usage never needs more, and a response can be far larger.</summary>
    private const int KeptChars = 1_048_576;
    private const int TailChars = 65_536;
    private readonly StringBuilder _line = new();
    private readonly StringBuilder _body = new();
    // The end of the body: a non-streamed answer longer than KeptChars (many choices, say) has its usage there.
    private readonly StringBuilder _tail = new();
    private bool _lineCut;
    private bool _bodyCut;
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
                if (_body.Length < KeptChars)
                {
                    _body.Append(character);
                }
                else
                {
                    _bodyCut = true;
                }

                _tail.Append(character);
                if (character == '\n')
                {
                    if (!_lineCut)
                    {
                        ScanLine(_line.ToString());
                    }

                    _line.Clear();
                    _lineCut = false;
                }
                else if (_line.Length < KeptChars)
                {
                    _line.Append(character);
                }
                else
                {
                    _lineCut = true;
                }
            }

            if (_tail.Length > 2 * TailChars)
            {
                _tail.Remove(0, _tail.Length - TailChars);
            }
        }
    }

    /// <summary>End of the response: a non-streamed JSON body is read whole.</summary>
    public void Complete()
    {
        if (!_lineCut)
        {
            ScanLine(_line.ToString());
        }

        if (InputTokens == 0 && OutputTokens == 0)
        {
            ScanJson(_body.ToString());
        }

        if (InputTokens == 0 && OutputTokens == 0 && _bodyCut)
        {
            ScanTail(_tail.ToString());
        }
    }

    /// <summary>
    /// The last <c>"usage": {…}</c> object in the end of a body too long to keep whole. Inside JSON strings a quote is
    /// escaped, so an unescaped <c>"usage"</c> followed by a colon is a key.
    /// </summary>
    private void ScanTail(string tail)
    {
        for (var at = tail.LastIndexOf("\"usage\"", StringComparison.Ordinal); at > 0; at = tail.LastIndexOf("\"usage\"", at - 1, StringComparison.Ordinal))
        {
            var rest = tail.AsSpan(at + 7).TrimStart();
            if (tail[at - 1] == '\\' || rest.IsEmpty || rest[0] != ':' || rest[1..].TrimStart() is not ['{', ..] value)
            {
                continue;
            }

            try
            {
                var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(value.ToString()));
                using var usage = JsonDocument.ParseValue(ref reader);
                InputTokens = Math.Max(InputTokens, Number(usage.RootElement, "prompt_tokens") + Number(usage.RootElement, "input_tokens"));
                OutputTokens = Math.Max(OutputTokens, Number(usage.RootElement, "completion_tokens") + Number(usage.RootElement, "output_tokens"));
                return;
            }
            catch (JsonException)
            {
                // Not a complete object: look further back.
            }
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
