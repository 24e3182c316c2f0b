namespace Oubliette.Sessions;

/// <summary>Events of a session tree and the cursor of each member session to pass back on the next poll.</summary>
public sealed record TreeEventPage(IReadOnlyList<SessionEvent> Events, IReadOnlyDictionary<string, long> Cursors, long Dropped);
