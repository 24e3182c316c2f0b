using Oubliette.Configuration;

namespace Oubliette.Projects;

/// <summary>Where a project's files live under <c>data/projects/&lt;id&gt;/</c>. Only parsed ids reach here.</summary>
public sealed class ProjectPaths(OublietteHome home, OublietteConfig config)
{
    /// <summary>The gateway's unix socket; its folder is mounted into every container.</summary>
    public string GatewaySocket => config.Server.GatewaySocket is { } configured ? Path.GetFullPath(configured, home.Root) : home.DefaultGatewaySocket;
    public string AgentSocket(Guid projectId) => Path.Combine(RunDirectory(projectId), "agent.sock");
    public string Root => home.ProjectsDirectory;
    public string Directory(Guid projectId) => Path.Combine(home.ProjectsDirectory, projectId.ToString("D"));
    public string MetadataFile(Guid projectId) => Path.Combine(Directory(projectId), "metadata.json");
    public string WorkspacesDirectory(Guid projectId) => Path.Combine(Directory(projectId), "workspaces");
    public string Workspace(Guid projectId, Guid workspaceId) => Path.Combine(WorkspacesDirectory(projectId), workspaceId.ToString("D"));
    public string RunDirectory(Guid projectId) => Path.Combine(Directory(projectId), "run");
    public string SessionsDirectory(Guid projectId) => Path.Combine(Directory(projectId), "sessions");
}
