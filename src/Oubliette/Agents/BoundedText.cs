using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Oubliette.Agents;

/// <summary>
/// Cuts text and JSON to a number of UTF-8 bytes without building the whole value first: an agent's event can carry
/// megabytes (a prompt, a file it wrote, a tool's output), and only the first bytes of it are ever kept.
/// </summary>
public static class BoundedText
{
    /// <summary><paramref name="text"/> cut to at most <paramref name="maxBytes"/> UTF-8 bytes, on a character boundary.</summary>
    public static string Truncate(string text, int maxBytes, out bool truncated)
    {
        // A UTF-16 character is at most 3 UTF-8 bytes (a surrogate pair, 2 characters, is 4).
        truncated = text.Length > maxBytes / 3 && Encoding.UTF8.GetByteCount(text) > maxBytes;
        return truncated ? text[..FittingLength(text, maxBytes)] : text;
    }

    /// <summary>
    /// The string value of <paramref name="element"/> (a JSON string) cut to <paramref name="maxBytes"/> UTF-8 bytes; only
    /// about that many bytes of it are decoded, however long it is.
    /// </summary>
    public static string FromJsonString(JsonElement element, int maxBytes, out bool truncated)
    {
        // The raw value is the quoted, escaped JSON text: at least as many bytes as the text it stands for.
        var raw = JsonMarshal.GetRawUtf8Value(element);
        if (raw.Length - 2 <= maxBytes)
        {
            truncated = false;
            return element.GetString() ?? "";
        }

        // More escaped bytes than the limit: something is cut, whatever the escapes stand for.
        truncated = true;
        return FromEscaped(raw[1..^1], maxBytes);
    }

    /// <summary>The current string token of <paramref name="reader"/>, cut to <paramref name="maxBytes"/> UTF-8 bytes.</summary>
    public static string FromJsonString(ref Utf8JsonReader reader, int maxBytes, out bool truncated)
    {
        var raw = reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan;
        if (raw.Length <= maxBytes)
        {
            truncated = false;
            return reader.GetString() ?? "";
        }

        truncated = true;
        return FromEscaped(raw, maxBytes);
    }

    /// <summary>The JSON text of <paramref name="element"/>, cut to <paramref name="maxBytes"/> UTF-8 bytes (on a character boundary).</summary>
    public static string RawJson(JsonElement element, int maxBytes, out bool truncated)
    {
        var raw = JsonMarshal.GetRawUtf8Value(element);
        truncated = raw.Length > maxBytes;
        if (!truncated)
        {
            return Encoding.UTF8.GetString(raw);
        }

        var cut = maxBytes;
        while (cut > 0 && (raw[cut] & 0xC0) == 0x80)
        {
            cut--;
        }

        return Encoding.UTF8.GetString(raw[..cut]);
    }

    /// <summary>
    /// <paramref name="input"/> as JSON of at most about <paramref name="maxBytes"/> UTF-8 bytes: long strings are cut and,
    /// once the budget is spent, further members and items are left out, so the result is still valid JSON of the same shape.
    /// </summary>
    public static JsonElement Truncate(JsonElement input, int maxBytes, out bool truncated)
    {
        if (JsonMarshal.GetRawUtf8Value(input).Length <= maxBytes)
        {
            truncated = false;
            return input.Clone();
        }

        truncated = true;
        var buffer = new ArrayBufferWriter<byte>(Math.Min(maxBytes, 64 * 1024) + 256);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            WriteBounded(writer, input, maxBytes);
        }

        return JsonElement.Parse(buffer.WrittenSpan);
    }

    private static void WriteBounded(Utf8JsonWriter writer, JsonElement element, long budget)
    {
        long Left() => budget - writer.BytesPending - writer.BytesCommitted;
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject())
                {
                    if (Left() < property.Name.Length + 8)
                    {
                        break;
                    }

                    writer.WritePropertyName(property.Name);
                    WriteBounded(writer, property.Value, budget);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    if (Left() < 8)
                    {
                        break;
                    }

                    WriteBounded(writer, item, budget);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                writer.WriteStringValue(FromJsonString(element, (int)Math.Clamp(Left() - 2, 0, int.MaxValue), out _));
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }

    /// <summary>
    /// Decodes the start of an escaped JSON string value (no quotes): at most <paramref name="maxBytes"/> escaped bytes,
    /// never cutting an escape sequence, a surrogate pair or a UTF-8 sequence. Unescaping never grows text, so the
    /// result is at most that many UTF-8 bytes.
    /// </summary>
    private static string FromEscaped(ReadOnlySpan<byte> escaped, int maxBytes)
    {
        var cut = 0;
        var limit = Math.Min(maxBytes, escaped.Length);
        while (cut < limit)
        {
            var length = escaped[cut] != (byte)'\\'
                ? 1
                : cut + 1 < escaped.Length && escaped[cut + 1] == (byte)'u' ? (IsHighSurrogateEscape(escaped, cut) ? 12 : 6) : 2;
            if (cut + length > limit)
            {
                break;
            }

            cut += length;
        }

        // Do not end inside a multi-byte UTF-8 sequence: back up to its lead byte.
        if (cut < escaped.Length)
        {
            while (cut > 0 && (escaped[cut] & 0xC0) == 0x80)
            {
                cut--;
            }
        }

        var quoted = new byte[cut + 2];
        quoted[0] = (byte)'"';
        escaped[..cut].CopyTo(quoted.AsSpan(1));
        quoted[^1] = (byte)'"';
        var reader = new Utf8JsonReader(quoted);
        reader.Read();
        return reader.GetString() ?? "";
    }

    /// <summary>Whether the escape at <paramref name="at"/> is <c>\uD800</c>..<c>\uDBFF</c>, the first half of a surrogate pair.</summary>
    private static bool IsHighSurrogateEscape(ReadOnlySpan<byte> escaped, int at) =>
        at + 6 <= escaped.Length && (escaped[at + 2] | 0x20) == (byte)'d' && (escaped[at + 3] | 0x20) is (byte)'8' or (byte)'9' or (byte)'a' or (byte)'b';

    /// <summary>How many characters of <paramref name="text"/> fit in <paramref name="maxBytes"/> UTF-8 bytes.</summary>
    private static int FittingLength(string text, int maxBytes)
    {
        var bytes = 0;
        var index = 0;
        while (index < text.Length)
        {
            var character = text[index];
            var (size, width) = character switch
            {
                < (char)0x80 => (1, 1),
                < (char)0x800 => (2, 1),
                _ when char.IsHighSurrogate(character) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]) => (4, 2),
                _ => (3, 1),
            };
            if (bytes + size > maxBytes)
            {
                break;
            }

            bytes += size;
            index += width;
        }

        return index;
    }
}
