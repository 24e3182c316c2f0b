namespace Oubliette.Sessions;

public sealed record WaitResult(string SessionId, string Status, bool Reached, long LastEventIndex);
