namespace Oubliette.Projects;

/// <summary>
/// A project as <c>get</c>, <c>list</c> and <c>create</c> return it. <see cref="Schedules"/> is the number of schedules
/// with a target in the project (filled by the <c>project</c> tool for get and list).
/// </summary>
public sealed record ProjectView(
    Guid Id,
    string Name,
    string? Description,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    string? Model,
    string Autonomy,
    string Reasoning,
    string ContainerType,
    string? RemoteUrl,
    string? GithubCredential,
    bool WorkspaceIsolation,
    EffectiveLimits Limits,
    Guid DefaultWorkspaceId,
    int WorkspacesCount,
    ContainerStatus Container,
    int ActiveSessions,
    int? Schedules = null);
