using System.Runtime.InteropServices;

namespace Oubliette.Operations;

/// <summary>
/// What lstat says of a path (.NET exposes neither the owner nor "socket"): owner, group and mode of the entry itself,
/// a final link not followed. Read with statx, whose layout is the same on every Linux architecture.
/// </summary>
internal readonly record struct FileStatus(uint Uid, uint Gid, uint Mode)
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;
    private const int NoSuchEntry = 2;
    private const int NotADirectory = 20;

    public uint Type => Mode & 0xF000;
    public bool IsSocket => Type == 0xC000;
    public bool IsLink => Type == 0xA000;
    public bool IsDirectory => Type == 0x4000;
    public bool IsRegularFile => Type == 0x8000;

    /// <summary>The permission bits (0..0o7777).</summary>
    public uint Permissions => Mode & 0xFFF;

    /// <summary>The user the server runs as.</summary>
    public static uint EffectiveUserId => GetEffectiveUserId();

    /// <summary>The entry's status, or null when nothing is there.</summary>
    public static FileStatus? Of(string path)
    {
        Span<byte> buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno is NoSuchEntry or NotADirectory ? null : throw new IOException($"cannot read the status of '{path}' (errno {errno})");
        }

        // struct statx: stx_uid at 20, stx_gid at 24, stx_mode (u16) at 28.
        return new FileStatus(
            BitConverter.ToUInt32(buffer[20..24]),
            BitConverter.ToUInt32(buffer[24..28]),
            BitConverter.ToUInt16(buffer[28..30]));
    }

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, ref byte buffer);

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEffectiveUserId();
}
