using System.Security.Cryptography;
using System.Text;
using Oubliette.Errors;

namespace Oubliette.Containers;

/// <summary>
/// The recipe of one agent image type (files under <c>images/</c>) and its hash, which labels the built image so that
/// an unchanged recipe is never rebuilt.
/// </summary>
public sealed record ImageRecipe(string Type, string Dockerfile, IReadOnlyList<string> BasePackages, IReadOnlyList<string> ExtraPackages, string OpenCodeVersion, string Hash)
{
    public const string RecipeLabel = "oubliette.recipe";
    public const string TypeLabel = "oubliette.image-type";
    public static readonly IReadOnlyList<string> BuildableTypes = ["base", "dev"];

    public static string DefaultDirectory => Path.Combine(AppContext.BaseDirectory, "images");

    public static ImageRecipe Load(string directory, string type)
    {
        if (!BuildableTypes.Contains(type, StringComparer.Ordinal))
        {
            throw new InvalidArgumentException($"type '{type}' has no image recipe (buildable types: {string.Join(", ", BuildableTypes)})");
        }

        var dockerfile = File.ReadAllText(Path.Combine(directory, "Dockerfile"));
        var basePackages = ReadList(Path.Combine(directory, "base.packages"));
        List<string> extraPackages = type == "dev" ? ReadList(Path.Combine(directory, "dev.packages")) : [];

        var version = File.ReadAllText(Path.Combine(directory, "opencode.version")).Trim();
        var material = $"type={type}\nopencode={version}\npackages={string.Join(',', basePackages)}+{string.Join(',', extraPackages)}\n{dockerfile}";
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(material)))[..16];
        return new ImageRecipe(type, dockerfile, basePackages, extraPackages, version, hash);
    }

    private static List<string> ReadList(string path) =>
        [.. File.ReadAllLines(path).Select(line => line.Trim()).Where(line => line.Length > 0 && !line.StartsWith('#'))];
}
