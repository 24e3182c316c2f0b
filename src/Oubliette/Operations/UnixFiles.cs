using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Oubliette.Operations;

/// <summary>
/// File operations that never follow a symbolic link, for the host folders an agent container can see: what a path
/// itself is (type, owner, mode), handles that pin a path without following it, and files written only through folders
/// the agent cannot change.
/// </summary>
internal static class UnixFiles
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;
    private const int OPath = 0x200000;
    private const int OCloexec = 0x80000;
    private const int Enoent = 2;
    private const int Enotdir = 20;

    /// <summary>O_NOFOLLOW differs between architectures (asm-generic vs x86).</summary>
    private static readonly int ONoFollow = RuntimeInformation.ProcessArchitecture is Architecture.Arm or Architecture.Arm64 or Architecture.Ppc64le
        ? 0x8000
        : 0x20000;

    private const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>What a path is, without following it; null when nothing is there.</summary>
    public static UnixFileStatus? LStatus(string path)
    {
        var buffer = new byte[256];
        if (Native.Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno is Enoent or Enotdir ? null : throw new IOException($"cannot stat {path} (errno {errno})");
        }

        return UnixFileStatus.From(buffer);
    }

    /// <summary>What an open handle refers to (for a handle from <see cref="OpenPath"/>: the path itself, never a link's target).</summary>
    public static UnixFileStatus Status(SafeFileHandle handle, string pathForErrors)
    {
        var buffer = new byte[256];
        if (Native.Statx(Fd(handle), "", AtEmptyPath, StatxBasicStats, buffer) != 0)
        {
            throw new IOException($"cannot stat {pathForErrors} (errno {Marshal.GetLastPInvokeError()})");
        }

        return UnixFileStatus.From(buffer);
    }

    /// <summary>
    /// A handle (O_PATH) on the path itself: when the path is a symbolic link, the handle is the link, not its target.
    /// Null when nothing is there. With <paramref name="folder"/>, <paramref name="name"/> is opened inside that folder's
    /// handle, so the folder cannot be swapped between the two steps.
    /// </summary>
    public static SafeFileHandle? OpenPath(string name, SafeFileHandle? folder = null)
    {
        var fd = folder is null
            ? Native.Open(name, OPath | ONoFollow | OCloexec)
            : Native.OpenAt(Fd(folder), name, OPath | ONoFollow | OCloexec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno is Enoent or Enotdir ? null : throw new IOException($"cannot open {name} (errno {errno})");
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>The descriptor of a handle, as a path the kernel resolves to exactly that file (for connecting to a socket).</summary>
    public static string ProcPath(SafeFileHandle handle) => $"/proc/self/fd/{Fd(handle)}";

    /// <summary>
    /// Makes <paramref name="path"/> a folder owned by root, mode 0755 (its parent is the server's own and trusted), or
    /// checks that the existing one is exactly that: never a link, never a folder someone else owns.
    /// </summary>
    public static void EnsureRootFolder(string path)
    {
        if (LStatus(path) is null)
        {
            Directory.CreateDirectory(path);
        }

        var status = LStatus(path) ?? throw new IOException($"{path} vanished while it was being created");
        if (status.Kind != UnixFileKind.Directory || status.Uid != 0)
        {
            throw new IOException($"{path} is a {status.Describe()}; expected a directory owned by root (move it away and retry)");
        }

        // The process umask (077) narrows the mode mkdir is given, and the container user must be able to enter.
        if ((status.Mode & 0xfff) != (uint)FolderMode)
        {
            File.SetUnixFileMode(path, FolderMode);
        }
    }

    /// <summary>
    /// Creates a folder for the container user: made here, then handed over with one lchown (no recursion, nothing
    /// followed). An existing one is left as it is.
    /// </summary>
    public static void EnsureFolderOwnedBy(string path, uint uid, uint gid)
    {
        if (LStatus(path) is not null)
        {
            return;
        }

        Directory.CreateDirectory(path);
        if (NativeMethods.LChown(path, uid, gid) != 0)
        {
            throw new IOException($"chown {uid}:{gid} {path} failed (errno {Marshal.GetLastPInvokeError()})");
        }
    }

    /// <summary>
    /// Replaces <paramref name="name"/> in the root-owned <paramref name="folder"/> at once: a fresh temp file (O_EXCL, so
    /// never through a link) owned by root and group <paramref name="gid"/>, given its final mode and content, flushed, then
    /// renamed over the old name (rename replaces a link, never writes through it).
    /// </summary>
    public static async Task WriteInRootFolderAsync(string folder, string name, string content, uint gid, UnixFileMode mode, CancellationToken cancellationToken)
    {
        var folderStatus = LStatus(folder);
        if (folderStatus is not { Kind: UnixFileKind.Directory, Uid: 0 } || (folderStatus.Mode & 0x12) != 0)
        {
            throw new IOException($"{folder} is {(folderStatus is null ? "missing" : "a " + folderStatus.Describe())}; expected a directory owned by root, writable by root only");
        }

        var path = Path.Combine(folder, name);
        var temporary = Path.Combine(folder, $".{name}.{Guid.NewGuid():N}.tmp");
        try
        {
            await using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                // Owner-only until the group is right; the umask may narrow this further, the fchmod below sets it exactly.
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                // On the handle, before any content and before the file has its final name: nobody else ever sees it
                // with a wider mode or another group than the final ones.
                if (Native.FChown(Fd(stream.SafeFileHandle), 0, gid) != 0 || Native.FChmod(Fd(stream.SafeFileHandle), (uint)mode) != 0)
                {
                    throw new IOException($"cannot set owner 0:{gid} mode {Convert.ToString((int)mode, 8)} on {temporary} (errno {Marshal.GetLastPInvokeError()})");
                }

                await stream.WriteAsync(Encoding.UTF8.GetBytes(content), cancellationToken);
                await stream.FlushAsync(cancellationToken);
#pragma warning disable CA1849 // FileStream has no asynchronous fsync.
                stream.Flush(flushToDisk: true);
#pragma warning restore CA1849
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    // The handle is used only within the caller's lifetime of it, on the caller's thread.
    private static int Fd(SafeFileHandle handle) => (int)handle.DangerousGetHandle();

    private static class Native
    {
        [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
        public static extern int Statx(int dirFd, string path, int flags, uint mask, byte[] buffer);

        [DllImport("libc", EntryPoint = "open", SetLastError = true)]
        public static extern int Open(string path, int flags);

        [DllImport("libc", EntryPoint = "openat", SetLastError = true)]
        public static extern int OpenAt(int dirFd, string path, int flags);

        [DllImport("libc", EntryPoint = "fchown", SetLastError = true)]
        public static extern int FChown(int fd, uint owner, uint group);

        [DllImport("libc", EntryPoint = "fchmod", SetLastError = true)]
        public static extern int FChmod(int fd, uint mode);
    }
}
