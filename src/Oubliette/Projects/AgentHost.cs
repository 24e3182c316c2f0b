namespace Oubliette.Projects;

/// <summary>
/// One container and the agent in it. A project's workspaces share one container, <c>oubliette-&lt;project-id&gt;</c>;
/// with <c>workspace_isolation</c> each workspace gets its own, <c>oubliette-&lt;project-id&gt;-&lt;workspace-id&gt;</c>,
/// which mounts that workspace only: an agent there cannot reach another workspace's files (SPEC §12).
/// </summary>
/// <param name="Project">The project the container serves.</param>
/// <param name="IsolatedWorkspace">The one workspace the container mounts, or null for the project's shared container.</param>
public sealed record AgentHost(ProjectMetadata Project, Guid? IsolatedWorkspace)
{
    /// <summary>What keys the host's agent connection and files: the workspace id when isolated, else the project id.</summary>
    public Guid Key => IsolatedWorkspace ?? Project.Id;

    /// <summary>The host a session in <paramref name="workspaceId"/> runs on.</summary>
    public static AgentHost For(ProjectMetadata project, Guid workspaceId) =>
        new(project, project.WorkspaceIsolation ? workspaceId : null);

    /// <summary>The host the container tool and a new project start: the shared one, or the default workspace's.</summary>
    public static AgentHost Default(ProjectMetadata project) => For(project, project.DefaultWorkspaceId);

    /// <summary>Whether a session in <paramref name="workspaceId"/> runs on this host.</summary>
    public bool Serves(Guid workspaceId) => IsolatedWorkspace is not { } isolated || isolated == workspaceId;
}
