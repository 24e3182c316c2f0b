using System.Formats.Tar;
using System.Runtime.InteropServices;

namespace Oubliette.Operations.Backups;

/// <summary>
/// Writes verified archive entries under a fresh staging folder that nobody else can reach: names were checked by
/// <see cref="BackupArchiveReader"/> (relative, no <c>..</c>, nothing under a link), files are created with
/// <c>O_EXCL</c> (never through a link at their own name), and every path is checked to stay inside the folder. Owners
/// (when running as root) and modes are applied at the end, folders last, so a read-only folder does not block its content.
/// </summary>
internal sealed class BackupExtractor(string root)
{
    private readonly List<(string Path, TarEntry Entry, bool IsDirectory)> _written = [];
    private readonly string _root = Path.GetFullPath(root);

    public void Directory(string name, TarEntry entry)
    {
        var path = Inside(name);
        System.IO.Directory.CreateDirectory(path);
        _written.Add((path, entry, true));
    }

    public Stream CreateFile(string name, TarEntry entry)
    {
        var path = Inside(name);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path) ?? _root);
        var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        _written.Add((path, entry, false));
        return stream;
    }

    public void Link(string name, TarEntry entry)
    {
        var path = Inside(name);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path) ?? _root);
        // The link is recreated as it was (its target text), never followed here or later by the server.
        File.CreateSymbolicLink(path, entry.LinkName);
        _written.Add((path, entry, false));
    }

    /// <summary>Gives every entry its archived owner (as root) and mode; links keep their own (lchown, no chmod).</summary>
    public void Finish()
    {
        var asRoot = Environment.IsPrivilegedProcess;
        foreach (var (path, entry, isDirectory) in _written.OrderBy(item => item.IsDirectory).ThenByDescending(item => item.Path.Length))
        {
            if (asRoot && NativeMethods.LChown(path, (uint)entry.Uid, (uint)entry.Gid) != 0)
            {
                throw new IOException($"lchown {entry.Uid}:{entry.Gid} {path} failed (errno {Marshal.GetLastPInvokeError()})");
            }

            if (entry.EntryType != TarEntryType.SymbolicLink)
            {
                File.SetUnixFileMode(path, entry.Mode & (UnixFileMode)0x1ff | (isDirectory ? UnixFileMode.UserExecute | UnixFileMode.UserWrite | UnixFileMode.UserRead : 0));
            }
        }
    }

    private string Inside(string name)
    {
        var path = Path.GetFullPath(Path.Combine(_root, name));
        if (!path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"entry '{name}' resolves outside the restore folder");
        }

        return path;
    }
}
