using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Oubliette.Operations.Backups;

/// <summary>What one archive holds, as written.</summary>
public sealed record BackupArchive(string Path, Guid ProjectId, DateTimeOffset CreatedAt, long SizeBytes, int Entries, int Skipped);

/// <summary>
/// Writes one project's archive: <c>project/…</c> (the project folder), <c>databases/auth.db</c> and
/// <c>databases/schedules.db</c> (consistent copies made beforehand), then <c>manifest.json</c>. The archive is built under
/// a temp name in the same folder (0600 from creation), flushed to disk, then renamed, so a reader only ever sees a
/// complete archive or none.
/// </summary>
internal static class BackupArchiveWriter
{
    public const string ProjectPrefix = "project";
    public const string WorkspacesPrefix = "project/workspaces/";

    /// <summary>Server runtime folders, rebuilt at the next container start: the agent's own <c>run/</c> and the relay socket.</summary>
    private static readonly string[] RuntimeFolders = ["run", "agent-socket"];

    public static async Task<BackupArchive> WriteAsync(
        string archivePath, Guid projectId, string projectDirectory, bool includeWorkspaces,
        IReadOnlyList<(string EntryName, string File)> databases, DateTimeOffset createdAt, CancellationToken cancellationToken)
    {
        var temporary = $"{archivePath}.{Guid.NewGuid():N}.tmp";
        var entries = new List<BackupManifestEntry>();
        var skipped = 0;
        try
        {
            await using (var file = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                await using (var gzip = new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true))
                await using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
                {
                    var leftOut = 0;
                    var budget = MaxUnbackedBytes;
                    var seen = new HashSet<(uint, uint, ulong)>();
                    var specials = await ProjectTreeWalker.WalkAsync(
                        projectDirectory,
                        (path, kind) =>
                        {
                            var (include, leftOutLink) = Include(path, kind, includeWorkspaces);
                            leftOut += leftOutLink ? 1 : 0;
                            return include;
                        },
                        item =>
                        {
                            // An agent's link whose target has a line break would make the archive unreadable (see Include).
                            if (item.LinkTarget?.Contains('\n', StringComparison.Ordinal) == true)
                            {
                                leftOut++;
                                return Task.CompletedTask;
                            }

                            // Holes (truncate -s 4T) and hard links (ln big big1 … big1000) cost the agent no disk but are
                            // read and archived in full, again and again: past the budget such a file is left out, or one
                            // agent stalls every backup for hours and fills the backup folder.
                            var unbacked = 0L;
                            if (item.Kind == UnixFileKind.Regular)
                            {
                                unbacked = item.Status.Links > 1 && !seen.Add(item.Status.Identity)
                                    ? item.Status.Size
                                    : Math.Max(0, item.Status.Size - item.Status.AllocatedBytes);
                            }

                            if (unbacked > budget)
                            {
                                leftOut++;
                                return Task.CompletedTask;
                            }

                            budget -= unbacked;
                            return WriteItemAsync(tar, item, entries, createdAt, cancellationToken);
                        },
                        cancellationToken);
                    skipped = specials + leftOut;
                    await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.Directory, "databases") { Mode = FolderMode, ModificationTime = createdAt }, cancellationToken);
                    entries.Add(new BackupManifestEntry("databases", BackupManifestEntry.Directory, 0, null));
                    foreach (var (name, path) in databases)
                    {
                        await using var content = File.OpenRead(path);
                        await WriteFileAsync(tar, name, content, content.Length, OwnerOnlyFile, 0, 0, createdAt, entries, cancellationToken);
                    }

                    var manifest = new BackupManifest(BackupManifest.CurrentFormat, BackupManifest.ProjectKind, projectId, createdAt, includeWorkspaces, entries);
                    var bytes = JsonSerializer.SerializeToUtf8Bytes(manifest, BackupJsonContext.Default.BackupManifest);
                    await using var manifestStream = new MemoryStream(bytes, writable: false);
                    await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, BackupManifest.EntryName)
                    {
                        DataStream = manifestStream,
                        Mode = OwnerOnlyFile,
                        ModificationTime = createdAt,
                    }, cancellationToken);
                }

                await file.FlushAsync(cancellationToken);
#pragma warning disable CA1849 // FileStream has no asynchronous fsync.
                file.Flush(flushToDisk: true);
#pragma warning restore CA1849
            }

            // No overwrite: two backups of one project in the same second must not replace each other.
            File.Move(temporary, archivePath, overwrite: false);
            return new BackupArchive(archivePath, projectId, createdAt, new FileInfo(archivePath).Length, entries.Count, skipped);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>
    /// Bytes one archive may read that take no disk of their own, summed over its files: holes (apparent size beyond what
    /// is allocated) and every further hard link of a file already archived. A workspace's few sparse files or hard links
    /// fit; a file that would exceed what is left is left out.
    /// </summary>
    internal const long MaxUnbackedBytes = 256L << 20;

    /// <summary>The longest entry name written: the reader's limit less room for the restore folder's own path.</summary>
    internal const int MaxArchivedNameLength = BackupArchiveReader.MaxNameLength - 1024;

    /// <summary>Whether a path of the project folder goes into the archive, and whether it is a link or name left out.</summary>
    private static (bool Include, bool LeftOutLink) Include(string path, UnixFileKind kind, bool includeWorkspaces)
    {
        // An archive that backup create calls a success must also verify and restore, whatever an agent names its files:
        // a line break is written into the PAX header as is and .NET's TarReader splits PAX records at line breaks; a
        // backslash or a name past BackupArchiveReader.MaxNameLength (a tree thousands of folders deep) is refused by the
        // reader, and a name near that length no longer fits PATH_MAX once joined to the restore folder. Such a name (and
        // for a folder, everything under it) is left out instead of making the whole archive unusable.
        if (path.Contains('\n', StringComparison.Ordinal) || path.Contains('\\', StringComparison.Ordinal)
            || ProjectPrefix.Length + 1 + path.Length > MaxArchivedNameLength)
        {
            return (false, true);
        }

        var segments = path.Split('/');
        if (segments[0] == "workspaces")
        {
            return (includeWorkspaces, false);
        }

        // A workspace being cloned (staging-<id>) is the agent user's until it is renamed into workspaces/.
        if (segments.Length == 1 && segments[0].StartsWith("staging-", StringComparison.Ordinal))
        {
            return (false, false);
        }

        if ((segments.Length == 1 && RuntimeFolders.Contains(segments[0]))
            || (segments.Length == 3 && segments[0] == "hosts" && RuntimeFolders.Contains(segments[2])))
        {
            return (false, false);
        }

        // Outside workspaces only the server writes; a link there was not made by Oubliette and is left out.
        return kind == UnixFileKind.SymbolicLink ? (false, true) : (true, false);
    }

    private static async Task WriteItemAsync(TarWriter tar, ProjectTreeItem item, List<BackupManifestEntry> entries, DateTimeOffset createdAt, CancellationToken cancellationToken)
    {
        var name = item.RelativePath.Length == 0 ? ProjectPrefix : $"{ProjectPrefix}/{item.RelativePath}";
        var mode = (UnixFileMode)item.Status.Mode;
        var uid = (int)item.Status.Uid;
        var gid = (int)item.Status.Gid;
        switch (item.Kind)
        {
            case UnixFileKind.Directory:
                await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.Directory, name) { Mode = mode, Uid = uid, Gid = gid, ModificationTime = createdAt }, cancellationToken);
                entries.Add(new BackupManifestEntry(name, BackupManifestEntry.Directory, 0, null));
                break;
            case UnixFileKind.SymbolicLink:
                var target = item.LinkTarget ?? "";
                await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = target, Uid = uid, Gid = gid, ModificationTime = createdAt }, cancellationToken);
                entries.Add(new BackupManifestEntry(name, BackupManifestEntry.Symlink, 0, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(target)))));
                break;
            default:
                var content = item.Content ?? Stream.Null;
                var modified = content is FileStream file ? new DateTimeOffset(File.GetLastWriteTimeUtc(file.SafeFileHandle), TimeSpan.Zero) : createdAt;
                // The size the hole budget was checked against, not the file's length now: an agent that truncates
                // the file to terabytes after the walker's statx gets no more than that size read.
                var length = item.Content is null ? 0 : item.Status.Size;
                await WriteFileAsync(tar, name, content, length, mode, uid, gid, modified, entries, cancellationToken);
                break;
        }
    }

    private static async Task WriteFileAsync(TarWriter tar, string name, Stream content, long length, UnixFileMode mode, int uid, int gid, DateTimeOffset modified,
        List<BackupManifestEntry> entries, CancellationToken cancellationToken)
    {
        await using var sized = new SizedHashingStream(content, length);
        await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = sized,
            Mode = mode,
            Uid = uid,
            Gid = gid,
            ModificationTime = modified,
        }, cancellationToken);
        entries.Add(new BackupManifestEntry(name, BackupManifestEntry.File, length, sized.Sha256()));
    }
}
