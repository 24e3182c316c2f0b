using Oubliette.Sessions;

namespace Oubliette.Mcp;

/// <summary>
/// Result of the <c>session</c> tool; each action fills its own fields (SPEC §6). <c>last_event_index</c> (spawn, message,
/// wait) is the session's newest event when the call answered; <c>last_index</c> (events) is the last event of the page.
/// Both are what to pass as the next <c>since_index</c>.
/// </summary>
public sealed record SessionToolResult(
    string? SessionId = null,
    string? Status = null,
    bool? Resumed = null,
    Guid? WorkspaceId = null,
    long? LastEventIndex = null,
    SessionView? Session = null,
    IReadOnlyList<SessionView>? Sessions = null,
    IReadOnlyList<SessionEvent>? Events = null,
    long? Dropped = null,
    long? FirstIndex = null,
    bool? Reached = null,
    IReadOnlyList<string>? Removed = null,
    IReadOnlyDictionary<string, long>? Cursors = null,
    long? LastIndex = null);
