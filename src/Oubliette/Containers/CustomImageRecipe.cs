using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;

namespace Oubliette.Containers;

/// <summary>
/// The recipe of a custom container type (<c>containers.&lt;type&gt;.recipe</c>): a folder with a <c>Dockerfile</c>, or a
/// Dockerfile whose folder is the build context. Its hash covers every file of the context (names and bytes) and the
/// Dockerfile, and labels the built image, so an unchanged recipe is never rebuilt. The build has no network: its
/// <c>FROM</c> is an image of this engine, such as <c>oubliette-agent:dev</c>, which keeps the user <c>gogol</c>, OpenCode
/// and socat that project containers need.
/// </summary>
/// <param name="Type">The container type.</param>
/// <param name="ContextDirectory">The build context (the recipe folder, or the Dockerfile's folder).</param>
/// <param name="Dockerfile">The Dockerfile's absolute path.</param>
/// <param name="Hash">16 hex digits of SHA-256 over the context and the Dockerfile.</param>
public sealed record CustomImageRecipe(string Type, string ContextDirectory, string Dockerfile, string Hash)
{
    /// <summary>Reads the recipe at <paramref name="path"/> (absolute: a folder with a Dockerfile, or a Dockerfile).</summary>
    public static CustomImageRecipe Load(string type, string path)
    {
        var (context, dockerfile) = Directory.Exists(path)
            ? (path, Path.Combine(path, "Dockerfile"))
            : (Path.GetDirectoryName(path) ?? "/", path);
        if (!File.Exists(dockerfile))
        {
            throw new Errors.NotFoundException($"containers.{type}.recipe: no Dockerfile at {dockerfile}");
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"type={type}\n"));
        foreach (var file in ContextFiles(context))
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"\n{Path.GetRelativePath(context, file)}\n"));
            hash.AppendData(File.ReadAllBytes(file));
        }

        hash.AppendData(Encoding.UTF8.GetBytes("\nDockerfile\n"));
        hash.AppendData(File.ReadAllBytes(dockerfile));
        return new CustomImageRecipe(type, context, dockerfile, Convert.ToHexStringLower(hash.GetHashAndReset())[..16]);
    }

    /// <summary>Writes the build context as a tar: every regular file of the folder, and the Dockerfile as <c>Dockerfile</c>.</summary>
    public async Task WriteContextAsync(Stream destination, CancellationToken cancellationToken)
    {
        await using var writer = new TarWriter(destination, TarEntryFormat.Pax, leaveOpen: true);
        foreach (var file in ContextFiles(ContextDirectory))
        {
            var name = Path.GetRelativePath(ContextDirectory, file).Replace(Path.DirectorySeparatorChar, '/');
            if (name != "Dockerfile")
            {
                await writer.WriteEntryAsync(file, name, cancellationToken);
            }
        }

        await writer.WriteEntryAsync(Dockerfile, "Dockerfile", cancellationToken);
    }

    /// <summary>Regular files only, in a stable order; links are left out so the context never reaches outside the folder.</summary>
    private static List<string> ContextFiles(string context) =>
        [.. Directory.EnumerateFiles(context, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint })
            .Order(StringComparer.Ordinal)];
}
