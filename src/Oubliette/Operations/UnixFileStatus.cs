using System.Globalization;
using System.Runtime.InteropServices;

namespace Oubliette.Operations;

/// <summary>
/// What a path is: its type, owner and permission bits (from <c>statx</c>), its apparent size in bytes and the bytes
/// allocated to it on disk (512-byte blocks × 512; less than the size for a sparse file), and its identity (device and
/// inode) with its count of hard links.
/// </summary>
internal sealed record UnixFileStatus(UnixFileKind Kind, uint Uid, uint Gid, uint Mode, long Size = 0, long AllocatedBytes = 0,
    (uint Major, uint Minor, ulong Inode) Identity = default, uint Links = 0)
{
    /// <summary>
    /// Reads <c>struct statx</c>: stx_nlink at byte 16, stx_uid at 20, stx_gid at 24, stx_mode at 28, stx_ino at 32,
    /// stx_size at 40, stx_blocks at 48, stx_dev_major and stx_dev_minor at 136 and 140 (the same on every architecture,
    /// in native byte order).
    /// </summary>
    public static UnixFileStatus From(ReadOnlySpan<byte> statx)
    {
        var uid = MemoryMarshal.Read<uint>(statx[20..]);
        var gid = MemoryMarshal.Read<uint>(statx[24..]);
        uint mode = MemoryMarshal.Read<ushort>(statx[28..]);
        var size = (long)Math.Min(MemoryMarshal.Read<ulong>(statx[40..]), long.MaxValue);
        var allocated = (long)Math.Min(MemoryMarshal.Read<ulong>(statx[48..]), long.MaxValue / 512) * 512;
        var identity = (MemoryMarshal.Read<uint>(statx[136..]), MemoryMarshal.Read<uint>(statx[140..]), MemoryMarshal.Read<ulong>(statx[32..]));
        var links = MemoryMarshal.Read<uint>(statx[16..]);

        var kind = (mode & 0xf000) switch
        {
            0x8000 => UnixFileKind.Regular,
            0x4000 => UnixFileKind.Directory,
            0xa000 => UnixFileKind.SymbolicLink,
            0xc000 => UnixFileKind.Socket,
            _ => UnixFileKind.Other,
        };
        return new UnixFileStatus(kind, uid, gid, mode & 0xfff, size, allocated, identity, links);
    }

    /// <summary>For error messages: "symbolic link owned by uid 1000, mode 0777".</summary>
    public string Describe() => $"{Name(Kind)} owned by uid {Uid.ToString(CultureInfo.InvariantCulture)}, mode {Convert.ToString(Mode, 8).PadLeft(4, '0')}";

    public static string Name(UnixFileKind kind) => kind switch
    {
        UnixFileKind.Regular => "regular file",
        UnixFileKind.Directory => "directory",
        UnixFileKind.SymbolicLink => "symbolic link",
        UnixFileKind.Socket => "socket",
        _ => "special file",
    };
}
