namespace Oubliette.Sessions;

public sealed record SpawnRequest(
    Guid ProjectId,
    string? Prompt,
    Guid? WorkspaceId,
    bool CreateWorkspace,
    bool NewSession,
    string? Model,
    string? Autonomy = null,
    string? Reasoning = null,
    string? ParentSessionId = null,
    CallerBinding? Caller = null);
