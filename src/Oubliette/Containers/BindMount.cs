namespace Oubliette.Containers;

public sealed record BindMount(string HostPath, string ContainerPath, bool ReadOnly = false);
