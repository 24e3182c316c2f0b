namespace Oubliette.Projects;

/// <summary>Labels added to every container this server creates (tests tag theirs with <c>oubliette.test=&lt;run-id&gt;</c>).</summary>
public sealed record ContainerLabelSet(IReadOnlyDictionary<string, string> Labels)
{
    public static readonly ContainerLabelSet None = new(new Dictionary<string, string>());
}
