namespace Oubliette.Projects;

/// <summary>The arguments of <c>project create</c>, as given (validated by <see cref="ProjectService"/>).</summary>
public sealed record CreateProjectRequest(
    string? Name,
    string? Description = null,
    string? Model = null,
    string? Autonomy = null,
    string? Reasoning = null,
    string? ContainerType = null,
    string? RemoteUrl = null,
    string? GithubCredential = null,
    bool? InitGit = null,
    bool? WorkspaceIsolation = null,
    int? MaxRecursionDepth = null,
    int? MaxAgentsPerSession = null,
    double? MaxCostUsd = null);
