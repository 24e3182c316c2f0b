namespace Oubliette.Sessions;

/// <summary>A read from a ring buffer: the events after the cursor, and how many were dropped before the first one.</summary>
public sealed record EventPage(IReadOnlyList<SessionEvent> Events, long LastIndex, long Dropped, long FirstIndex);
