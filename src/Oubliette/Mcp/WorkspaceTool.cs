using System.ComponentModel;
using ModelContextProtocol.Server;
using Oubliette.Auth;
using Oubliette.Projects;

namespace Oubliette.Mcp;

[McpServerToolType]
public sealed class WorkspaceTool(ProjectService projects, Authorizer authorizer, CallerContext callerContext)
{
    [McpServerTool(Name = "workspace", UseStructuredContent = true)]
    [Description("A project's workspaces (folders at /workspace/<id> in its container). Actions: list {project_id}; create {project_id, external_id?, source?}; delete {project_id, workspace_id}.")]
    public async Task<WorkspaceToolResult> RunAsync(
        [Description("list | create | delete")] string action,
        [Description("the project's UUID")] string? project_id = null,
        [Description("delete: the workspace's UUID")] string? workspace_id = null,
        [Description("create: your own identifier for the workspace (unique in the project)")] string? external_id = null,
        [Description("create: git URL to clone into the new workspace")] string? source = null,
        CancellationToken cancellationToken = default)
    {
        var verb = ToolArguments.Action("workspace", action, ActionCatalog.ActionsOf("workspace"));
        var projectId = ProjectIds.Parse("project_id", project_id);
        authorizer.Demand(callerContext.Caller, $"workspace.{verb}", projectId);
        return verb switch
        {
            "list" => new WorkspaceToolResult(Workspaces: await projects.ListWorkspacesAsync(projectId, cancellationToken)),
            "create" => new WorkspaceToolResult(Workspace: await projects.CreateWorkspaceAsync(projectId, external_id, source, callerContext.Caller, cancellationToken)),
            _ => new WorkspaceToolResult(
                Workspace: await projects.DeleteWorkspaceAsync(projectId, ProjectIds.Parse("workspace_id", workspace_id), cancellationToken),
                Deleted: true),
        };
    }
}
