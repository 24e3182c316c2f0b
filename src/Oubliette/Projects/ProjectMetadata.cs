namespace Oubliette.Projects;

/// <summary>What <c>data/projects/&lt;id&gt;/metadata.json</c> holds. Never a credential: only credential names.</summary>
public sealed record ProjectMetadata
{
    public required Guid Id { get; init; }
    public required string Name { get; init; }
    public string? Description { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    public string? Model { get; init; }
    public required string Autonomy { get; init; }
    public required string Reasoning { get; init; }
    public required string ContainerType { get; init; }
    public string? RemoteUrl { get; init; }
    public string? GithubCredential { get; init; }
    public required bool InitGit { get; init; }
    public required bool WorkspaceIsolation { get; init; }
    public required ProjectLimits Limits { get; init; }
    public required Guid DefaultWorkspaceId { get; init; }
    public required IReadOnlyList<WorkspaceMetadata> Workspaces { get; init; }
}
