using System.Formats.Tar;
using System.IO.Compression;
using Oubliette.Operations;

namespace Oubliette.Containers;

/// <summary>
/// Builds agent images without a registry: a debootstrapped bookworm root filesystem imported into the engine, the
/// pinned OpenCode binary from npm, and the Dockerfile of <c>images/</c> on top.
/// </summary>
public sealed class AgentImageBuilder(IContainerRuntime runtime, string recipeDirectory, string debianMirror)
{
    public const string DefaultMirror = "http://deb.debian.org/debian";

    /// <summary>Builds <paramref name="tag"/> from the recipe of <paramref name="type"/>; returns false when it was already up to date.</summary>
    public async Task<bool> BuildAsync(string type, string tag, IProgress<string> progress, CancellationToken cancellationToken)
    {
        var recipe = ImageRecipe.Load(recipeDirectory, type);
        var labels = await runtime.InspectImageLabelsAsync(tag, cancellationToken);
        if (labels is not null && labels.TryGetValue(ImageRecipe.RecipeLabel, out var built) && built == recipe.Hash)
        {
            progress.Report($"{tag} is up to date (recipe {recipe.Hash})");
            return false;
        }

        var work = Directory.CreateTempSubdirectory("oubliette-image-");
        try
        {
            var rootfsTag = $"oubliette-rootfs:{type}-{recipe.Hash}";
            if (await runtime.InspectImageLabelsAsync(rootfsTag, cancellationToken) is null)
            {
                await ImportRootfsAsync(recipe, rootfsTag, Path.Combine(work.FullName, "rootfs"), progress, cancellationToken);
            }

            var context = Path.Combine(work.FullName, "context");
            Directory.CreateDirectory(context);
            await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), recipe.Dockerfile, cancellationToken);
            await FetchOpenCodeAsync(recipe.OpenCodeVersion, work.FullName, Path.Combine(context, "opencode"), progress, cancellationToken);

            progress.Report($"building {tag} on {rootfsTag}");
            var contextTar = Path.Combine(work.FullName, "context.tar");
            await TarFile.CreateFromDirectoryAsync(context, contextTar, includeBaseDirectory: false, cancellationToken);
            await using var contextStream = File.OpenRead(contextTar);
            await runtime.BuildImageAsync(
                contextStream,
                tag,
                new Dictionary<string, string> { [ImageRecipe.RecipeLabel] = recipe.Hash, [ImageRecipe.TypeLabel] = type },
                new Dictionary<string, string> { ["ROOTFS"] = rootfsTag },
                progress,
                cancellationToken);
            progress.Report($"built {tag} (recipe {recipe.Hash})");
            return true;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>Builds <paramref name="tag"/> from a custom type's recipe; returns false when it was already up to date.</summary>
    public async Task<bool> BuildCustomAsync(CustomImageRecipe recipe, string tag, IProgress<string> progress, CancellationToken cancellationToken)
    {
        var labels = await runtime.InspectImageLabelsAsync(tag, cancellationToken);
        if (labels is not null && labels.TryGetValue(ImageRecipe.RecipeLabel, out var built) && built == recipe.Hash)
        {
            progress.Report($"{tag} is up to date (recipe {recipe.Hash})");
            return false;
        }

        progress.Report($"building {tag} from {recipe.Dockerfile} (context {recipe.ContextDirectory})");
        var contextTar = Path.Combine(Path.GetTempPath(), $"oubliette-context-{Guid.NewGuid():N}.tar");
        try
        {
            await using (var file = File.Create(contextTar))
            {
                await recipe.WriteContextAsync(file, cancellationToken);
            }

            await using var contextStream = File.OpenRead(contextTar);
            await runtime.BuildImageAsync(
                contextStream,
                tag,
                new Dictionary<string, string> { [ImageRecipe.RecipeLabel] = recipe.Hash, [ImageRecipe.TypeLabel] = recipe.Type },
                new Dictionary<string, string>(),
                progress,
                cancellationToken);
        }
        finally
        {
            File.Delete(contextTar);
        }

        progress.Report($"built {tag} (recipe {recipe.Hash})");
        return true;
    }

    private async Task ImportRootfsAsync(ImageRecipe recipe, string rootfsTag, string rootfs, IProgress<string> progress, CancellationToken cancellationToken)
    {
        progress.Report($"debootstrap bookworm with {string.Join(' ', recipe.BasePackages)} into {rootfs}");
        await ProcessRunner.RunAsync(
            "debootstrap",
            ["--variant=minbase", $"--include={string.Join(',', recipe.BasePackages)}", "bookworm", rootfs, debianMirror],
            progress,
            cancellationToken);
        if (recipe.ExtraPackages.Count > 0)
        {
            // Large toolchains (npm above all) do not configure in debootstrap's single pass; apt in the chroot handles them.
            progress.Report($"apt-get install {string.Join(' ', recipe.ExtraPackages)}");
            await ProcessRunner.RunAsync("mount", ["-t", "proc", "proc", Path.Combine(rootfs, "proc")], progress, cancellationToken);
            try
            {
                await ProcessRunner.RunAsync("chroot", [rootfs, "apt-get", "update", "-qq"], progress, cancellationToken);
                await ProcessRunner.RunAsync(
                    "chroot",
                    [rootfs, "apt-get", "install", "-y", "-qq", "--no-install-recommends", .. recipe.ExtraPackages],
                    progress,
                    cancellationToken,
                    environment: new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" });
            }
            finally
            {
                await ProcessRunner.RunAsync("umount", [Path.Combine(rootfs, "proc")], progress, CancellationToken.None);
            }
        }

        foreach (var cache in new[] { "var/cache/apt/archives", "var/lib/apt/lists" })
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(rootfs, cache)))
            {
                File.Delete(file);
            }
        }

        progress.Report($"importing the root filesystem as {rootfsTag}");
        var tarball = rootfs + ".tar";
        await ProcessRunner.RunAsync("tar", ["--numeric-owner", "-C", rootfs, "-cf", tarball, "."], progress, cancellationToken);
        Directory.Delete(rootfs, recursive: true);
        var separator = rootfsTag.LastIndexOf(':');
        await using (var stream = File.OpenRead(tarball))
        {
            await runtime.ImportImageAsync(stream, rootfsTag[..separator], rootfsTag[(separator + 1)..], cancellationToken);
        }

        File.Delete(tarball);
    }

    internal static async Task FetchOpenCodeAsync(string version, string work, string destination, IProgress<string> progress, CancellationToken cancellationToken)
    {
        progress.Report($"fetching opencode-linux-x64@{version} from npm");
        await ProcessRunner.RunAsync("npm", ["pack", $"opencode-linux-x64@{version}", "--silent"], progress, cancellationToken, workingDirectory: work);
        var package = Path.Combine(work, $"opencode-linux-x64-{version}.tgz");
        await using var gzip = new GZipStream(File.OpenRead(package), CompressionMode.Decompress);
        await using var reader = new TarReader(gzip);
        while (await reader.GetNextEntryAsync(cancellationToken: cancellationToken) is { } entry)
        {
            if (entry.Name == "package/bin/opencode")
            {
                await entry.ExtractToFileAsync(destination, overwrite: true, cancellationToken);
                return;
            }
        }

        throw new InvalidOperationException($"opencode-linux-x64@{version} has no package/bin/opencode");
    }
}
