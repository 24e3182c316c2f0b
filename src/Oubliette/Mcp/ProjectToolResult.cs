using Oubliette.Projects;

namespace Oubliette.Mcp;

/// <summary>Result of the <c>project</c> tool: <c>project</c> (create, get, delete), <c>projects</c> (list) or <c>options</c>.</summary>
public sealed record ProjectToolResult(ProjectView? Project = null, IReadOnlyList<ProjectView>? Projects = null, bool? Deleted = null, ProjectOptions? Options = null);
