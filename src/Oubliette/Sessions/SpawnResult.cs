namespace Oubliette.Sessions;

public sealed record SpawnResult(string SessionId, string Status, bool Resumed, Guid WorkspaceId, long LastEventIndex);
