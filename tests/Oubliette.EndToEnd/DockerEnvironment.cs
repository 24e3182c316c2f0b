using Oubliette.Configuration;
using Oubliette.Containers;
using Oubliette.Containers.Docker;

namespace Oubliette.EndToEnd;

/// <summary>
/// The real engine and the real images, checked once per run. The suite refuses to run (fails loudly) without them:
/// the test command starts dockerd and builds the images. Every container a test makes carries this run's label and is
/// removed at the end.
/// </summary>
public sealed class DockerEnvironment : IAsyncLifetime
{
    public const string TestLabel = "oubliette.test";

    public string RunId { get; } = Guid.NewGuid().ToString("N")[..12];
    public DockerContainerRuntime Runtime { get; } = new(Environment.GetEnvironmentVariable("DOCKER_HOST"));
    public IReadOnlyDictionary<string, string> Labels => new Dictionary<string, string> { [TestLabel] = RunId };

    public async Task InitializeAsync()
    {
        try
        {
            await Runtime.PingAsync(CancellationToken.None);
        }
        catch (Exception exception)
        {
            throw new InvalidOperationException(
                "End-to-end tests need a running Docker engine at /var/run/docker.sock (./test.sh starts one): " + exception.Message, exception);
        }

        var defaults = ConfigParser.Parse("{}", "defaults");
        foreach (var type in ImageRecipe.BuildableTypes)
        {
            var recipe = ImageRecipe.Load(ImageRecipe.DefaultDirectory, type);
            var labels = await Runtime.InspectImageLabelsAsync(defaults.Containers[type], CancellationToken.None);
            if (labels is null || !labels.TryGetValue(ImageRecipe.RecipeLabel, out var hash) || hash != recipe.Hash)
            {
                throw new InvalidOperationException(
                    $"End-to-end tests need the current {defaults.Containers[type]} image (recipe {recipe.Hash}); ./test.sh builds it with 'oubliette image build'");
            }
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var container in await Runtime.ListByLabelAsync(TestLabel, RunId, CancellationToken.None))
        {
            await Runtime.RemoveAsync(container.Id, CancellationToken.None);
        }

        Runtime.Dispose();
    }
}
