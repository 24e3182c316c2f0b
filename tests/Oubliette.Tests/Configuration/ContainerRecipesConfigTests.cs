using Oubliette.Configuration;
using Oubliette.Containers;

namespace Oubliette.Tests.Configuration;

/// <summary><c>containers.&lt;type&gt;</c> as an image name or <c>{image?, recipe?}</c>, and the recipes' hashes.</summary>
public sealed class ContainerRecipesConfigTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("oubliette-recipes-").FullName;

    private string ConfigFile => Path.Combine(_home, "config", "oubliette.jsonc");

    public void Dispose() => Directory.Delete(_home, recursive: true);

    [Fact]
    public void A_custom_type_with_a_recipe_folder_relative_to_the_home_is_read()
    {
        Directory.CreateDirectory(Path.Combine(_home, "recipes", "rust"));
        File.WriteAllText(Path.Combine(_home, "recipes", "rust", "Dockerfile"), "FROM oubliette-agent:dev\n");

        var config = ConfigParser.Parse("""{"containers": {"dev": "oubliette-agent:dev", "rust": {"recipe": "recipes/rust"}}}""", ConfigFile);

        Assert.Equal("oubliette-agent:rust", config.Containers["rust"]);
        Assert.Equal(Path.Combine(_home, "recipes", "rust"), config.ContainerRecipes["rust"]);
        Assert.False(config.ContainerRecipes.ContainsKey("dev"));
    }

    [Fact]
    public void A_custom_type_with_a_dockerfile_and_its_own_image_name_is_read()
    {
        File.WriteAllText(Path.Combine(_home, "Dockerfile.py"), "FROM oubliette-agent:dev\n");

        var recipe = Path.Combine(_home, "Dockerfile.py");
        var config = ConfigParser.Parse("{\"containers\": {\"dev\": \"oubliette-agent:dev\", \"py\": {\"image\": \"local/py:1\", \"recipe\": \"" + recipe + "\"}}}", ConfigFile);

        Assert.Equal("local/py:1", config.Containers["py"]);
        Assert.Equal(Path.Combine(_home, "Dockerfile.py"), config.ContainerRecipes["py"]);
    }

    [Fact]
    public void A_missing_recipe_a_folder_without_dockerfile_and_wrong_values_are_start_up_errors_naming_the_key()
    {
        Directory.CreateDirectory(Path.Combine(_home, "empty"));

        var error = Assert.Throws<ConfigException>(() => ConfigParser.Parse(
            """{"containers": {"dev": "oubliette-agent:dev", "gone": {"recipe": "nowhere"}, "empty": {"recipe": "empty"}, "odd": 3, "extra": {"recipe": "empty", "tag": "x"}, "bad": "not an image!"}}""",
            ConfigFile));

        Assert.Contains(error.Errors, e => e.Path == "containers.gone.recipe" && e.Reason.Contains("'nowhere' does not exist", StringComparison.Ordinal)
            && e.Reason.Contains(Path.Combine(_home, "nowhere"), StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.Path == "containers.empty.recipe" && e.Reason.Contains("has no Dockerfile", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.Path == "containers.odd" && e.Reason.Contains("expected a string (the image) or an object", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.Path == "containers.extra.tag" && e.Reason.Contains("unknown key", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.Path == "containers.bad" && e.Reason.Contains("is not an image name", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_recipe_hash_changes_with_any_file_of_its_context_and_the_context_carries_the_dockerfile()
    {
        var folder = Path.Combine(_home, "recipe");
        Directory.CreateDirectory(Path.Combine(folder, "files"));
        await File.WriteAllTextAsync(Path.Combine(folder, "Dockerfile"), "FROM oubliette-agent:dev\nCOPY files/ /opt/\n", CancellationToken.None);
        await File.WriteAllTextAsync(Path.Combine(folder, "files", "a.txt"), "one", CancellationToken.None);
        var first = CustomImageRecipe.Load("custom", folder);

        Assert.Equal(first.Hash, CustomImageRecipe.Load("custom", folder).Hash);
        await File.WriteAllTextAsync(Path.Combine(folder, "files", "a.txt"), "two", CancellationToken.None);
        var second = CustomImageRecipe.Load("custom", folder);
        Assert.NotEqual(first.Hash, second.Hash);
        Assert.NotEqual(second.Hash, CustomImageRecipe.Load("other", folder).Hash);

        using var tar = new MemoryStream();
        await second.WriteContextAsync(tar, CancellationToken.None);
        tar.Position = 0;
        var names = new List<string>();
        await using var reader = new System.Formats.Tar.TarReader(tar);
        while (await reader.GetNextEntryAsync(cancellationToken: CancellationToken.None) is { } entry)
        {
            names.Add(entry.Name);
        }

        Assert.Equal(["files/a.txt", "Dockerfile"], names);
    }
}
