namespace Oubliette.Mcp;

/// <summary>
/// A target of a schedule: <c>workspace_id</c> is left out for the project's default workspace; <c>pinned_session_id</c>
/// is the session the target last ran in (resumed by the next run when <c>session_behavior</c> is <c>resume</c>).
/// </summary>
public sealed record ScheduleTargetView(Guid ProjectId, Guid? WorkspaceId, string? PinnedSessionId);
