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
                    var linksLeftOut = 0;
                    var specials = await ProjectTreeWalker.WalkAsync(
                        projectDirectory,
                        (path, kind) =>
                        {
                            var (include, leftOutLink) = Include(path, kind, includeWorkspaces);
                            linksLeftOut += leftOutLink ? 1 : 0;
                            return include;
                        },
                        item => WriteItemAsync(tar, item, entries, createdAt, cancellationToken),
                        cancellationToken);
                    skipped = specials + linksLeftOut;
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

    /// <summary>Whether a path of the project folder goes into the archive, and whether it is a link left out.</summary>
    private static (bool Include, bool LeftOutLink) Include(string path, UnixFileKind kind, bool includeWorkspaces)
    {
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
                await WriteFileAsync(tar, name, content, content.Length, mode, uid, gid, modified, entries, cancellationToken);
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
