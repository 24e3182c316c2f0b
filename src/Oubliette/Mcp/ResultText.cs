using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Oubliette.Mcp;

/// <summary>
/// The text copy of a structured result, for clients (and models) that read only text: the same fields as plain
/// <c>name: value</c> lines (a list of objects one line per item) instead of a second JSON document. JSON inside a JSON
/// string costs every quote six bytes on the wire (the SDK writes <c>"</c> as <c>\u0022</c>) and doubled the page; plain
/// lines carry no quotes, leave out what repeats on every event (its timestamp, the page's own session id), and stop at
/// a budget of 30% of the JSON (at least <see cref="MinimumBudget"/> characters), each value cut to
/// <see cref="MaxValueChars"/> characters, saying where the rest is. structuredContent always holds everything.
/// A page of session events is denser still (<see cref="RenderEvents"/>): one header line, then one line per event,
/// <c>[index] type: text, name: value...</c>; its budget has no minimum but always holds the first event, and a cut page
/// tells a text-only reader the <c>since_index</c> that fetches the rest.
/// </summary>
internal static class ResultText
{
    public const int MinimumBudget = 200;
    public const int MaxValueChars = 300;

    public static string Render(JsonElement result, int payloadBytes)
    {
        if (result.ValueKind == JsonValueKind.Object && result.TryGetProperty("events", out var events) && events.ValueKind == JsonValueKind.Array)
        {
            return RenderEvents(result, events, payloadBytes * 3 / 10);
        }

        var budget = Math.Max(MinimumBudget, payloadBytes * 3 / 10);
        var text = new StringBuilder();
        var pageSession = result.ValueKind == JsonValueKind.Object && result.TryGetProperty("session_id", out var id) && id.ValueKind == JsonValueKind.String
            ? id.GetString()
            : null;
        if (result.ValueKind != JsonValueKind.Object)
        {
            Scalar(text, result);
            return text.ToString();
        }

        // Scalars first (status, last_index, dropped...), then lists and nested objects: the header reads before the items.
        foreach (var property in result.EnumerateObject().OrderBy(property => property.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Array ? 1 : 0))
        {
            if (text.Length >= budget)
            {
                text.Append("... (cut; the full result is in structuredContent)\n");
                break;
            }

            text.Append(property.Name).Append(':');
            switch (property.Value.ValueKind)
            {
                case JsonValueKind.Array when property.Value.EnumerateArray().Any(item => item.ValueKind == JsonValueKind.Object):
                    text.Append(' ').Append(property.Value.GetArrayLength().ToString(CultureInfo.InvariantCulture)).Append('\n');
                    var written = 0;
                    foreach (var item in property.Value.EnumerateArray())
                    {
                        if (text.Length >= budget)
                        {
                            text.Append("... ").Append((property.Value.GetArrayLength() - written).ToString(CultureInfo.InvariantCulture))
                                .Append(" more (cut; the full result is in structuredContent)\n");
                            break;
                        }

                        text.Append("- ");
                        Inline(text, item, pageSession);
                        text.Append('\n');
                        written++;
                    }

                    break;
                default:
                    text.Append(' ');
                    Inline(text, property.Value, pageSession);
                    text.Append('\n');
                    break;
            }
        }

        return text.ToString();
    }

    /// <summary>
    /// A page of events: <c>status: running, last_index: 41</c> (the page's scalars; its session id is the one the caller
    /// asked for), other fields as <c>name: value</c> lines (<c>cursors</c> of a tree), then
    /// <c>[41] message: the text</c> per event (the event's other fields as <c>name: value</c>, its session id only when
    /// it is another session's, as in a tree). Past <paramref name="budget"/> characters the rest is cut at an event
    /// boundary, always after the first event.
    /// </summary>
    private static string RenderEvents(JsonElement page, JsonElement events, int budget)
    {
        var pageSession = page.TryGetProperty("session_id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;
        var text = new StringBuilder();
        var first = true;
        foreach (var property in page.EnumerateObject())
        {
            if (property.Name is "events" or "session_id" || property.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
            {
                continue;
            }

            text.Append(first ? "" : ", ").Append(property.Name).Append(": ");
            Scalar(text, property.Value);
            first = false;
        }

        text.Append(first ? "" : ", ").Append("events: ").Append(events.GetArrayLength().ToString(CultureInfo.InvariantCulture)).Append('\n');
        foreach (var property in page.EnumerateObject())
        {
            if (property.Name != "events" && property.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
            {
                text.Append(property.Name).Append(": ");
                Inline(text, property.Value, pageSession);
                text.Append('\n');
            }
        }

        var written = 0;
        long? lastShown = null;
        foreach (var item in events.EnumerateArray())
        {
            if (written > 0 && text.Length >= budget)
            {
                var more = (events.GetArrayLength() - written).ToString(CultureInfo.InvariantCulture);
                text.Append("... ").Append(more).Append(page.TryGetProperty("cursors", out _) || lastShown is null
                    ? " more events (cut; the full page is in structuredContent)\n"
                    : $" more events (cut; call events again with since_index {lastShown.Value.ToString(CultureInfo.InvariantCulture)} for them)\n");
                break;
            }

            EventLine(text, item, pageSession);
            lastShown = item.ValueKind == JsonValueKind.Object && item.TryGetProperty("index", out var index) && index.TryGetInt64(out var value) ? value : null;
            written++;
        }

        return text.ToString();
    }

    private static void EventLine(StringBuilder text, JsonElement item, string? pageSession)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            Inline(text, item, pageSession);
            text.Append('\n');
            return;
        }

        text.Append('[');
        if (item.TryGetProperty("index", out var index))
        {
            Scalar(text, index);
        }

        text.Append(']');
        if (item.TryGetProperty("type", out var type))
        {
            text.Append(' ');
            Scalar(text, type);
        }

        text.Append(':');
        var first = true;
        if (item.TryGetProperty("text", out var body))
        {
            text.Append(' ');
            Inline(text, body, pageSession);
            first = false;
        }

        foreach (var property in item.EnumerateObject())
        {
            if (property.Name is "index" or "type" or "text" or "timestamp"
                || (property.Name == "session_id" && pageSession is not null && property.Value.ValueEquals(pageSession)))
            {
                continue;
            }

            text.Append(first ? " " : ", ").Append(property.Name).Append(": ");
            Inline(text, property.Value, pageSession);
            first = false;
        }

        text.Append('\n');
    }

    private static void Inline(StringBuilder text, JsonElement value, string? pageSession)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                var first = true;
                foreach (var property in value.EnumerateObject())
                {
                    if (property.Name == "timestamp" || (property.Name == "session_id" && pageSession is not null && property.Value.ValueEquals(pageSession)))
                    {
                        continue;
                    }

                    text.Append(first ? "" : ", ").Append(property.Name).Append(": ");
                    Inline(text, property.Value, pageSession);
                    first = false;
                }

                break;
            case JsonValueKind.Array:
                text.Append('[');
                var index = 0;
                foreach (var item in value.EnumerateArray())
                {
                    text.Append(index++ == 0 ? "" : ", ");
                    Inline(text, item, pageSession);
                }

                text.Append(']');
                break;
            default:
                Scalar(text, value);
                break;
        }
    }

    private static void Scalar(StringBuilder text, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            text.Append(value.GetRawText());
            return;
        }

        var content = value.GetString() ?? "";
        text.Append(content.Length > MaxValueChars ? string.Concat(content.AsSpan(0, MaxValueChars), "...") : content);
    }
}
