namespace Oubliette.Operations.Backups;

/// <summary>
/// <c>manifest.json</c>, the last entry of every backup archive: what the archive holds, with the SHA-256 of each entry
/// (of a file's content, of a link's target text), so that <c>backup verify</c> and <c>backup restore</c> can tell a
/// complete archive from a corrupt, truncated or altered one.
/// </summary>
public sealed record BackupManifest(int Format, string Kind, Guid ProjectId, DateTimeOffset CreatedAt, bool IncludesWorkspaces, IReadOnlyList<BackupManifestEntry> Entries)
{
    public const int CurrentFormat = 1;
    public const string ProjectKind = "project";
    public const string EntryName = "manifest.json";
}

/// <summary>One archive entry: its name, type (<c>directory</c>, <c>file</c>, <c>symlink</c>), size in bytes and SHA-256 (hex, null for a folder).</summary>
public sealed record BackupManifestEntry(string Path, string Type, long Size, string? Sha256)
{
    public const string Directory = "directory";
    public const string File = "file";
    public const string Symlink = "symlink";
}
