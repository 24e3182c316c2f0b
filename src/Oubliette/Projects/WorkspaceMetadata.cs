namespace Oubliette.Projects;

/// <summary>One workspace of a project: a folder mounted at <c>/workspace/&lt;id&gt;</c> in the project's container.</summary>
public sealed record WorkspaceMetadata(Guid Id, string? ExternalId, string? Source, DateTimeOffset CreatedAt);
