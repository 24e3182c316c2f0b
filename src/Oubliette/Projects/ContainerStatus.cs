namespace Oubliette.Projects;

/// <summary>A project's container as tools show it; <c>missing</c> when the engine has none.</summary>
public sealed record ContainerStatus(string Name, string? Id, string State, bool Running, string? Image, DateTimeOffset? StartedAt);
