using System.Buffers;
using System.Text.Json;

namespace Oubliette.Agents.OpenCode;

/// <summary>
/// Reads OpenCode's <c>message.part.delta</c> events (bare, or wrapped in the global stream's <c>{directory, payload}</c>)
/// with a forward-only reader instead of a document: while an agent streams its reply they are nearly every event, and
/// the reader must keep pace with OpenCode. Maps exactly as <see cref="OpenCodeEventMapper"/> does.
/// </summary>
internal static class OpenCodeDeltaReader
{
    private static ReadOnlySpan<byte> DeltaType => "message.part.delta"u8;

    /// <summary>
    /// True when <paramref name="data"/> is a delta event; <paramref name="delta"/> is then its text delta, or null for a
    /// delta that is not text (reasoning) or names no session. False for any other event: map it the general way.
    /// </summary>
    public static bool TryRead(ReadOnlySequence<byte> data, out AgentEvent? delta, int maxTextBytes = int.MaxValue)
    {
        delta = null;
        ReadOnlySpan<byte> json = data.IsSingleSegment ? data.FirstSpan : data.ToArray();
        if (json.IndexOf(DeltaType) < 0)
        {
            return false;
        }

        var fields = new DeltaFields { MaxTextBytes = maxTextBytes };
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        ReadEnvelope(ref reader, ref fields, payloadAllowed: true);
        if (fields.Type != DeltaKind.Delta)
        {
            return false;
        }

        if (fields.SessionId is not null && fields.IsText)
        {
            delta = new AgentEvent(fields.SessionId, AgentEventKind.Delta, Text: fields.Text, Truncated: fields.Truncated);
        }

        return true;
    }

    private enum DeltaKind
    {
        Unknown,
        Delta,
        Other,
    }

    private ref struct DeltaFields
    {
        public DeltaKind Type;
        public string? SessionId;
        public bool IsText;
        public string? Text;
        public bool Truncated;
        public int MaxTextBytes;
    }

    /// <summary>The properties of <c>{type, properties}</c> (or of the wrapper around it); the reader is on its StartObject.</summary>
    private static void ReadEnvelope(ref Utf8JsonReader reader, ref DeltaFields fields, bool payloadAllowed)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (payloadAllowed && reader.ValueTextEquals("payload"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    ReadEnvelope(ref reader, ref fields, payloadAllowed: false);
                    continue;
                }
            }
            else if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    fields.Type = reader.ValueTextEquals(DeltaType) ? DeltaKind.Delta : DeltaKind.Other;
                    continue;
                }
            }
            else if (reader.ValueTextEquals("properties"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    ReadProperties(ref reader, ref fields);
                    continue;
                }
            }
            else
            {
                reader.Read();
            }

            reader.Skip();
        }
    }

    private static void ReadProperties(ref Utf8JsonReader reader, ref DeltaFields fields)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isSession = reader.ValueTextEquals("sessionID"u8);
            var isField = reader.ValueTextEquals("field"u8);
            var isDelta = reader.ValueTextEquals("delta"u8);
            reader.Read();
            if (reader.TokenType == JsonTokenType.String && (isSession || isField || isDelta))
            {
                if (isSession)
                {
                    fields.SessionId = reader.GetString();
                }
                else if (isField)
                {
                    fields.IsText = reader.ValueTextEquals("text"u8);
                }
                else
                {
                    fields.Text = BoundedText.FromJsonString(ref reader, fields.MaxTextBytes, out fields.Truncated);
                }

                continue;
            }

            reader.Skip();
        }
    }
}
