namespace Oubliette.Configuration;

public static partial class ConfigParser
{
    /// <summary>
    /// <c>containers.&lt;type&gt;</c>: the image name (<c>"oubliette-agent:dev"</c>), or <c>{image?, recipe?}</c> where
    /// <c>recipe</c> is a folder with a <c>Dockerfile</c> or a Dockerfile (relative to the home) that
    /// <c>oubliette image build --type &lt;type&gt;</c> builds; <c>image</c> defaults to <c>oubliette-agent:&lt;type&gt;</c>.
    /// A recipe that is not there is a start-up error, so that a build or a project never finds out later.
    /// </summary>
    private static (IReadOnlyDictionary<string, string> Images, IReadOnlyDictionary<string, string> Recipes) ReadContainers(ConfigReader root, string file)
    {
        var recipes = new Dictionary<string, string>(StringComparer.Ordinal);
        // The config lives in <home>/config/: relative recipe paths are relative to the home, as every path of the runbook.
        var home = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(file))) ?? "/";
        var images = root.StringOrSectionMap("containers", (_, image) => image, (type, section) =>
        {
            section.RejectUnknownKeys("image", "recipe");
            var image = section.String("image", $"oubliette-agent:{type}");
            if (section.OptionalString("recipe") is { } recipe)
            {
                var full = Path.GetFullPath(recipe, home);
                if (Directory.Exists(full))
                {
                    if (!File.Exists(Path.Combine(full, "Dockerfile")))
                    {
                        section.Error("recipe", $"folder '{full}' has no Dockerfile (a recipe is a folder with a Dockerfile, or a Dockerfile)");
                    }
                }
                else if (!File.Exists(full))
                {
                    section.Error("recipe", $"'{recipe}' does not exist (looked at {full}; a recipe is a folder with a Dockerfile, or a Dockerfile; relative paths are relative to the home)");
                }

                recipes[type] = full;
            }

            return image;
        });
        foreach (var (type, image) in images)
        {
            if (!IsImageName(image))
            {
                root.Error($"containers.{type}", $"'{image}' is not an image name (such as oubliette-agent:{type})");
            }
        }

        return (images, recipes);
    }

    private static bool IsImageName(string image) =>
        image.Length is > 0 and <= 255 && image.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':' or '/' or '@');
}
