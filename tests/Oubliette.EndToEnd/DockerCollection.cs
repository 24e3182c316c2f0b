namespace Oubliette.EndToEnd;

/// <summary>
/// The end-to-end tests run in two collections, one after another within each and side by side across them: most
/// of a test's time is the agent starting and thinking in its container, so two at once fill the test machine's two
/// cores and halve the wall time. Each collection has its own <see cref="DockerEnvironment"/> (run label), so their
/// containers never mix.
/// </summary>
[CollectionDefinition(Name)]
public sealed class DockerCollection : ICollectionFixture<DockerEnvironment>
{
    public const string Name = "docker";
}

/// <summary>The second end-to-end collection; see <see cref="DockerCollection"/>.</summary>
[CollectionDefinition(Name)]
public sealed class DockerCollectionB : ICollectionFixture<DockerEnvironment>
{
    public const string Name = "docker-b";
}
