using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Oubliette.Operations.Backups;

/// <summary>
/// Reads an archive from start to end and checks it against its manifest: every entry a plain name under
/// <c>project/</c> or <c>databases/</c> (no absolute path, no <c>..</c>, nothing under a link, no duplicate), only folders,
/// files and (inside workspaces) symbolic links, each entry's SHA-256 and size as the manifest says, the manifest last and
/// naming exactly the entries found. With an <see cref="BackupExtractor"/>, entries are written out as they are read.
/// </summary>
internal static class BackupArchiveReader
{
    internal const int MaxNameLength = 4096;
    private const long MaxManifestBytes = 64L * 1024 * 1024;
    private static readonly string[] DatabaseEntries = ["databases/auth.db", "databases/schedules.db"];

    /// <summary>The archive's manifest once every check has passed.</summary>
    /// <exception cref="CorruptBackupException">The archive is corrupt, truncated, altered or hostile; the message says which entry and why.</exception>
    public static async Task<BackupManifest> ReadAsync(string archivePath, BackupExtractor? extractor, CancellationToken cancellationToken)
    {
        try
        {
            return await ReadCheckedAsync(archivePath, extractor, cancellationToken);
        }
        catch (Exception exception) when (exception is InvalidDataException or EndOfStreamException or FormatException or JsonException
            or ArgumentException or InvalidOperationException or OverflowException)
        {
            // GZipStream and TarReader report a damaged or cut-off stream in these; the archive is what is wrong.
            throw Corrupt(archivePath, exception.Message.TrimEnd('.'));
        }
    }

    public static CorruptBackupException Corrupt(string archivePath, string reason) =>
        new($"backup archive {archivePath} is corrupt or not an Oubliette backup: {reason}; nothing was changed");

    private static async Task<BackupManifest> ReadCheckedAsync(string archivePath, BackupExtractor? extractor, CancellationToken cancellationToken)
    {
        var seen = new Dictionary<string, BackupManifestEntry>(StringComparer.Ordinal);
        var links = new HashSet<string>(StringComparer.Ordinal);
        var parents = new HashSet<string>(StringComparer.Ordinal);
        BackupManifest? manifest = null;
        await using var file = File.OpenRead(archivePath);
        await using var gzip = new GZipStream(file, CompressionMode.Decompress);
        await using var tar = new TarReader(gzip);
        while (await tar.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
        {
            if (manifest is not null)
            {
                throw Corrupt(archivePath, $"entry '{Shown(entry.Name)}' follows {BackupManifest.EntryName}, which must be the last");
            }

            var isDirectory = entry.EntryType == TarEntryType.Directory;
            var name = isDirectory ? entry.Name.TrimEnd('/') : entry.Name;
            CheckName(archivePath, name);
            if (name == BackupManifest.EntryName)
            {
                manifest = await ReadManifestAsync(archivePath, entry, cancellationToken);
                continue;
            }

            var type = entry.EntryType switch
            {
                TarEntryType.Directory => BackupManifestEntry.Directory,
                TarEntryType.RegularFile or TarEntryType.V7RegularFile => BackupManifestEntry.File,
                TarEntryType.SymbolicLink => BackupManifestEntry.Symlink,
                _ => throw Corrupt(archivePath, $"entry '{Shown(name)}' is a {entry.EntryType}; backups hold only folders, files and symbolic links"),
            };
            CheckPlace(archivePath, name, type, seen, links, parents);
            var recorded = type switch
            {
                BackupManifestEntry.Directory => new BackupManifestEntry(name, type, 0, null),
                BackupManifestEntry.Symlink => new BackupManifestEntry(name, type, 0, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(entry.LinkName)))),
                _ => new BackupManifestEntry(name, type, entry.Length, await HashAsync(entry, extractor, name, cancellationToken)),
            };
            if (type == BackupManifestEntry.Directory)
            {
                extractor?.Directory(name, entry);
            }
            else if (type == BackupManifestEntry.Symlink)
            {
                extractor?.Link(name, entry);
            }

            seen[name] = recorded;
        }

        if (manifest is null)
        {
            throw Corrupt(archivePath, $"it ends without {BackupManifest.EntryName} (truncated, or not made by 'oubliette backup create')");
        }

        Compare(archivePath, manifest, seen);
        return manifest;
    }

    private static void CheckName(string archivePath, string name)
    {
        if (name.Length is 0 or > MaxNameLength || name.Contains('\0', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal)
            || name.StartsWith('/') || name.Split('/').Any(segment => segment is "" or "." or ".."))
        {
            throw Corrupt(archivePath, $"entry name '{Shown(name)}' is not a plain relative path (no leading /, no . or .. parts, no empty parts); refusing to write outside the restore folder");
        }

        if (name != BackupManifest.EntryName && name != BackupArchiveWriter.ProjectPrefix && name != "databases" && !DatabaseEntries.Contains(name)
            && !name.StartsWith(BackupArchiveWriter.ProjectPrefix + "/", StringComparison.Ordinal))
        {
            throw Corrupt(archivePath, $"entry '{Shown(name)}' is outside project/ and databases/");
        }
    }

    private static void CheckPlace(string archivePath, string name, string type, Dictionary<string, BackupManifestEntry> seen, HashSet<string> links, HashSet<string> parents)
    {
        if (seen.ContainsKey(name))
        {
            throw Corrupt(archivePath, $"entry '{Shown(name)}' appears twice");
        }

        if (type == BackupManifestEntry.Symlink && !name.StartsWith(BackupArchiveWriter.WorkspacesPrefix, StringComparison.Ordinal))
        {
            throw Corrupt(archivePath, $"entry '{Shown(name)}' is a symbolic link outside project/workspaces/, where Oubliette never makes one");
        }

        if (type != BackupManifestEntry.Directory && parents.Contains(name))
        {
            throw Corrupt(archivePath, $"entry '{Shown(name)}' is a {type} where an earlier entry needs a folder");
        }

        // Nothing may be written through a link: no entry lies under one.
        for (var slash = name.IndexOf('/', StringComparison.Ordinal); slash > 0; slash = name.IndexOf('/', slash + 1))
        {
            var parent = name[..slash];
            if (links.Contains(parent) || (seen.TryGetValue(parent, out var earlier) && earlier.Type != BackupManifestEntry.Directory))
            {
                throw Corrupt(archivePath, $"entry '{Shown(name)}' lies under '{Shown(parent)}', which is not a folder; refusing to write through a link");
            }

            parents.Add(parent);
        }

        if (type == BackupManifestEntry.Symlink)
        {
            links.Add(name);
        }
    }

    private static async Task<string> HashAsync(TarEntry entry, BackupExtractor? extractor, string name, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var output = extractor?.CreateFile(name, entry);
        if (entry.DataStream is { } data)
        {
            var buffer = new byte[81920];
            int read;
            while ((read = await data.ReadAsync(buffer, cancellationToken)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                if (output is not null)
                {
                    await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static async Task<BackupManifest> ReadManifestAsync(string archivePath, TarEntry entry, CancellationToken cancellationToken)
    {
        if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.Length > MaxManifestBytes || entry.DataStream is null)
        {
            throw Corrupt(archivePath, $"{BackupManifest.EntryName} is not a file of at most {MaxManifestBytes} bytes");
        }

        var manifest = await JsonSerializer.DeserializeAsync(entry.DataStream, BackupJsonContext.Default.BackupManifest, cancellationToken)
            ?? throw Corrupt(archivePath, $"{BackupManifest.EntryName} is empty");
        if (manifest.Format != BackupManifest.CurrentFormat || manifest.Kind != BackupManifest.ProjectKind || manifest.Entries is null)
        {
            throw Corrupt(archivePath, $"{BackupManifest.EntryName} has format {manifest.Format} kind '{manifest.Kind}'; this release reads format {BackupManifest.CurrentFormat} kind '{BackupManifest.ProjectKind}'");
        }

        return manifest;
    }

    private static void Compare(string archivePath, BackupManifest manifest, Dictionary<string, BackupManifestEntry> seen)
    {
        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var expected in manifest.Entries)
        {
            if (!listed.Add(expected.Path))
            {
                throw Corrupt(archivePath, $"{BackupManifest.EntryName} lists '{Shown(expected.Path)}' twice");
            }

            if (!seen.TryGetValue(expected.Path, out var found))
            {
                throw Corrupt(archivePath, $"entry '{Shown(expected.Path)}' listed in {BackupManifest.EntryName} is missing");
            }

            if (found.Type != expected.Type || found.Size != expected.Size || !string.Equals(found.Sha256, expected.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                throw Corrupt(archivePath, $"entry '{Shown(expected.Path)}' does not match its checksum in {BackupManifest.EntryName} (expected {expected.Type} of {expected.Size} bytes, sha256 {expected.Sha256}; found {found.Type} of {found.Size} bytes, sha256 {found.Sha256})");
            }
        }

        if (seen.Keys.FirstOrDefault(name => !listed.Contains(name)) is { } extra)
        {
            throw Corrupt(archivePath, $"entry '{Shown(extra)}' is not listed in {BackupManifest.EntryName}");
        }

        if (!seen.ContainsKey(BackupArchiveWriter.ProjectPrefix + "/metadata.json") || DatabaseEntries.Any(name => !seen.ContainsKey(name)))
        {
            throw Corrupt(archivePath, "it lacks project/metadata.json or a database copy");
        }
    }

    /// <summary>An entry name for a message: control characters escaped, at most 200 characters.</summary>
    private static string Shown(string name)
    {
        var escaped = string.Concat(name.Select(character => char.IsControl(character) ? $"\\x{(int)character:x2}" : character.ToString()));
        return escaped.Length > 200 ? escaped[..200] + "…" : escaped;
    }
}
