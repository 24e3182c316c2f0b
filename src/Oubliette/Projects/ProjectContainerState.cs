namespace Oubliette.Projects;

/// <summary>One container of a project and whether it runs what the project's container type builds now.</summary>
/// <param name="Name">The container's name: <c>oubliette-&lt;project-id&gt;</c>, or with the workspace's id for an isolated one.</param>
/// <param name="Host">The agent host the container serves.</param>
/// <param name="State">The engine's state (<c>running</c>, <c>exited</c>, <c>paused</c>…).</param>
/// <param name="Running">Whether it runs (a paused container runs too).</param>
/// <param name="Image">The image name it was created from (e.g. <c>oubliette-agent:dev</c>).</param>
/// <param name="ImageId">The id of the image it runs.</param>
/// <param name="CurrentImageId">The id the type's image has now; null when that image is not built.</param>
/// <param name="CurrentSpec">Made with the current container spec (see <see cref="ProjectContainers.SpecVersion"/>).</param>
public sealed record ProjectContainerState(string Name, AgentHost Host, string State, bool Running, string Image, string ImageId, string? CurrentImageId, bool CurrentSpec)
{
    /// <summary>Runs the current image of its type, made with the current spec: a refresh would change nothing.</summary>
    public bool Current => CurrentSpec && CurrentImageId is not null && ImageId == CurrentImageId;
}
