namespace Oubliette.EndToEnd;

[CollectionDefinition(Name)]
public sealed class DockerCollection : ICollectionFixture<DockerEnvironment>
{
    public const string Name = "docker";
}
