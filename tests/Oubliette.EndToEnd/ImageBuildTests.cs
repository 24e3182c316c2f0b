using Oubliette.Testing;

namespace Oubliette.EndToEnd;

[Collection(DockerCollection.Name)]
public sealed class ImageBuildTests
{
    [Fact]
    public async Task Image_build_with_an_unchanged_recipe_is_a_no_op()
    {
        var result = await OublietteProcess.RunAsync(["image", "build", "--dir", Path.Combine(Path.GetTempPath(), "oubliette-nohome-" + Guid.NewGuid().ToString("N")[..8])]);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("oubliette-agent:base is up to date (recipe", result.Output, StringComparison.Ordinal);
        Assert.Contains("oubliette-agent:dev is up to date (recipe", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Image_build_of_an_unknown_type_is_a_usage_error()
    {
        var result = await OublietteProcess.RunAsync(["image", "build", "--type", "gpu"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--type 'gpu' is not a container type of the config (buildable types: base, dev)", result.Error, StringComparison.Ordinal);
    }
}
