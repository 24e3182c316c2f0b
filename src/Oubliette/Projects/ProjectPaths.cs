using Oubliette.Configuration;

namespace Oubliette.Projects;

/// <summary>Where a project's files live under <c>data/projects/&lt;id&gt;/</c>. Only parsed ids reach here.</summary>
public sealed class ProjectPaths(OublietteHome home, OublietteConfig config)
{
    /// <summary>The gateway's unix socket; its folder is mounted into every container.</summary>
    public string GatewaySocket => config.Server.GatewaySocket is { } configured ? Path.GetFullPath(configured, home.Root) : home.DefaultGatewaySocket;
    /// <summary>The host → OpenCode relay's socket, in a root-owned folder the container user cannot write.</summary>
    public string AgentSocket(Guid projectId) => Path.Combine(AgentSocketDirectory(projectId), "agent.sock");
    public string AgentSocket(AgentHost host) => Path.Combine(AgentSocketDirectory(host), "agent.sock");
    public string Root => home.ProjectsDirectory;
    public string Directory(Guid projectId) => Path.Combine(home.ProjectsDirectory, projectId.ToString("D"));
    public string MetadataFile(Guid projectId) => Path.Combine(Directory(projectId), "metadata.json");
    public string WorkspacesDirectory(Guid projectId) => Path.Combine(Directory(projectId), "workspaces");
    public string Workspace(Guid projectId, Guid workspaceId) => Path.Combine(WorkspacesDirectory(projectId), workspaceId.ToString("D"));
    /// <summary>The agent's own folder (its log, whatever OpenCode writes): agent-controlled, never written by the server.</summary>
    public string RunDirectory(Guid projectId) => Path.Combine(Directory(projectId), "run");
    public string RunDirectory(AgentHost host) => Path.Combine(HostDirectory(host), "run");

    /// <summary>The agent's configuration as the server writes it: root-owned, mounted read-only.</summary>
    public string AgentConfigDirectory(Guid projectId) => Path.Combine(Directory(projectId), "agent-config");
    public string AgentConfigDirectory(AgentHost host) => Path.Combine(HostDirectory(host), "agent-config");

    /// <summary>Where the root-run relay makes <c>agent.sock</c>: root-owned, mounted read-write (the relay binds there).</summary>
    public string AgentSocketDirectory(Guid projectId) => Path.Combine(Directory(projectId), "agent-socket");
    public string AgentSocketDirectory(AgentHost host) => Path.Combine(HostDirectory(host), "agent-socket");

    /// <summary>
    /// Where a host's own files live (its run, config and socket folders, its gateway credential's hash): the project's
    /// folder for the shared container, <c>hosts/&lt;workspace-id&gt;/</c> in it for an isolated workspace's.
    /// </summary>
    public string HostDirectory(AgentHost host) => host.IsolatedWorkspace is { } workspace
        ? Path.Combine(Directory(host.Project.Id), "hosts", workspace.ToString("D"))
        : Directory(host.Project.Id);
    public string SessionsDirectory(Guid projectId) => Path.Combine(Directory(projectId), "sessions");
}
