using Oubliette.Projects;

namespace Oubliette.Mcp;

public sealed record WorkspaceToolResult(IReadOnlyList<WorkspaceMetadata>? Workspaces = null, WorkspaceMetadata? Workspace = null, bool? Deleted = null);
