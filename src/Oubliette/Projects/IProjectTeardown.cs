namespace Oubliette.Projects;

/// <summary>
/// What another room holds for a project and must let go of the moment the project is deleted (the gateway credential
/// of its container, the connection to its agent). Projects knows only this port, never the rooms behind it.
/// </summary>
public interface IProjectTeardown
{
    /// <summary>Called by <see cref="ProjectService.DeleteAsync"/> once the container is removed, before the files go.</summary>
    Task ProjectDeletedAsync(Guid projectId, CancellationToken cancellationToken);
}
