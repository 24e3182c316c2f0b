using Microsoft.Win32.SafeHandles;

namespace Oubliette.Operations.Backups;

/// <summary>One thing found in a project folder: its path relative to the folder (<c>/</c>-separated) and what it is.</summary>
internal sealed record ProjectTreeItem(string RelativePath, UnixFileKind Kind, UnixFileStatus Status, Stream? Content, string? LinkTarget);

/// <summary>
/// Walks a project folder without ever following a symbolic link, even one an agent swaps in while the walk runs: each
/// folder is pinned by an <c>O_PATH|O_NOFOLLOW</c> handle and its entries are opened relative to that handle
/// (<c>openat</c>), so no path component is ever resolved through a link. A link is reported as a link (with its target
/// text, never read through); sockets, pipes and devices are counted and skipped.
/// </summary>
internal static class ProjectTreeWalker
{
    /// <param name="root">The project folder (the server's own; it must itself be a real folder).</param>
    /// <param name="include">Whether to visit a relative path (and, for a folder, what lies under it).</param>
    /// <param name="visit">Called for each item in a stable order (names sorted ordinally), a folder before its content.</param>
    /// <param name="cancellationToken">Stops the walk between entries.</param>
    /// <returns>How many special files (sockets, pipes, devices) were skipped.</returns>
    public static async Task<int> WalkAsync(string root, Func<string, UnixFileKind, bool> include, Func<ProjectTreeItem, Task> visit, CancellationToken cancellationToken)
    {
        using var handle = UnixFiles.OpenPath(root) ?? throw new DirectoryNotFoundException($"{root} does not exist");
        var status = UnixFiles.Status(handle, root);
        if (status.Kind != UnixFileKind.Directory)
        {
            throw new IOException($"{root} is a {status.Describe()}, not a folder");
        }

        await visit(new ProjectTreeItem("", UnixFileKind.Directory, status, null, null));
        return await WalkFolderAsync(handle, "", include, visit, cancellationToken);
    }

    private static async Task<int> WalkFolderAsync(SafeFileHandle folder, string relative, Func<string, UnixFileKind, bool> include, Func<ProjectTreeItem, Task> visit, CancellationToken cancellationToken)
    {
        var skipped = 0;
        // /proc/self/fd/<n> resolves to exactly the pinned folder, whatever has been renamed or swapped since.
        var folderPath = UnixFiles.ProcPath(folder);
        var names = Directory.EnumerateFileSystemEntries(folderPath).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        foreach (var name in names)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var path = relative.Length == 0 ? name : $"{relative}/{name}";
            using var handle = UnixFiles.OpenPath(name, folder);
            if (handle is null)
            {
                continue; // Removed since the listing.
            }

            var status = UnixFiles.Status(handle, path);
            if (!include(path, status.Kind))
            {
                continue;
            }

            switch (status.Kind)
            {
                case UnixFileKind.Directory:
                    await visit(new ProjectTreeItem(path, status.Kind, status, null, null));
                    skipped += await WalkFolderAsync(handle, path, include, visit, cancellationToken);
                    break;
                case UnixFileKind.Regular:
                    // Reopening the pinned handle opens that very file; never a link planted at its name since.
                    await using (var content = new FileStream(UnixFiles.ProcPath(handle), FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
                    {
                        await visit(new ProjectTreeItem(path, status.Kind, status, content, null));
                    }

                    break;
                case UnixFileKind.SymbolicLink:
                    // readlink of one name inside the pinned folder: the link itself, never its target.
                    var target = new FileInfo(Path.Combine(folderPath, name)).LinkTarget ?? "";
                    await visit(new ProjectTreeItem(path, status.Kind, status, null, target));
                    break;
                default:
                    skipped++;
                    break;
            }
        }

        return skipped;
    }
}
