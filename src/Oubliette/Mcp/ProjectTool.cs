using System.ComponentModel;
using ModelContextProtocol.Server;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Projects;
using Oubliette.Schedules;

namespace Oubliette.Mcp;

[McpServerToolType]
public sealed class ProjectTool(ProjectService projects, ScheduleStore schedules, OublietteConfig config, Authorizer authorizer, CallerContext callerContext)
{
    [McpServerTool(Name = "project", UseStructuredContent = true)]
    [Description("Projects, each with its own agent container. Actions: create {name, ...}; list {name_contains?, limit?}; get {project_id}; delete {project_id, force?}; options.")]
    public async Task<ProjectToolResult> RunAsync(
        [Description("create | list | get | delete | options")] string action,
        [Description("get, delete: the project's UUID")] string? project_id = null,
        [Description("create: unique name")] string? name = null,
        [Description("create")] string? description = null,
        [Description("create: a model alias from options")] string? model = null,
        [Description("create: off | low | medium | high")] string? autonomy = null,
        [Description("create: off | low | medium | high")] string? reasoning = null,
        [Description("create: a container type from options (e.g. base, dev)")] string? container_type = null,
        [Description("create: git URL to clone as the default workspace")] string? remote_url = null,
        [Description("create: name of a configured GitHub credential used for the clone")] string? github_credential = null,
        [Description("create: git init the default workspace (default true)")] bool? init_git = null,
        [Description("create")] bool? workspace_isolation = null,
        [Description("create: override of defaults.limits")] int? max_recursion_depth = null,
        [Description("create: override of defaults.limits")] int? max_agents_per_session = null,
        [Description("create: override of defaults.limits")] double? max_cost_usd = null,
        [Description("list: case-insensitive name filter")] string? name_contains = null,
        [Description("list: at most this many (default 100)")] int? limit = null,
        [Description("delete: also when sessions are active")] bool? force = null,
        CancellationToken cancellationToken = default)
    {
        var verb = ToolArguments.Action("project", action, ActionCatalog.ActionsOf("project"));
        var caller = callerContext.Caller;
        switch (verb)
        {
            case "create":
                authorizer.Demand(caller, "project.create");
                return new ProjectToolResult(Project: await projects.CreateAsync(
                    new CreateProjectRequest(name, description, model, autonomy, reasoning, container_type, remote_url, github_credential,
                        init_git, workspace_isolation, max_recursion_depth, max_agents_per_session, max_cost_usd),
                    caller, cancellationToken));
            case "list":
                authorizer.Demand(caller, "project.list");
                var listed = await projects.ListAsync(caller, name_contains, limit, cancellationToken);
                var counts = await schedules.CountsByProjectAsync(cancellationToken);
                return new ProjectToolResult(Projects: [.. listed.Select(project => project with { Schedules = counts.GetValueOrDefault(project.Id) })]);
            case "options":
                authorizer.Demand(caller, "project.options");
                return new ProjectToolResult(Options: ProjectOptionsBuilder.Build(config));
            case "get":
            {
                var id = ProjectIds.Parse("project_id", project_id);
                authorizer.Demand(caller, "project.get", id);
                var project = await projects.GetAsync(id, cancellationToken);
                return new ProjectToolResult(Project: project with { Schedules = await schedules.CountForProjectAsync(id, cancellationToken) });
            }

            default:
            {
                var id = ProjectIds.Parse("project_id", project_id);
                authorizer.Demand(caller, "project.delete", id);
                return new ProjectToolResult(Project: await projects.DeleteAsync(id, force ?? false, caller, cancellationToken), Deleted: true);
            }
        }
    }
}
