using System.Text.Json;

namespace Oubliette.Sessions;

/// <summary>
/// One event of a session (SPEC §6): <c>{index, timestamp, type, session_id, …}</c>; unused fields are omitted.
/// <c>truncated: true</c> says a text, output, message or input was cut to <c>server.max_event_bytes</c>.
/// </summary>
public sealed record SessionEvent(
    long Index,
    DateTimeOffset Timestamp,
    string Type,
    string SessionId,
    string? Text = null,
    string? Tool = null,
    string? CallId = null,
    JsonElement? Input = null,
    string? Output = null,
    bool? IsError = null,
    long? TokensIn = null,
    long? TokensOut = null,
    double? CostUsd = null,
    string? Status = null,
    string? Message = null,
    bool? Truncated = null);
