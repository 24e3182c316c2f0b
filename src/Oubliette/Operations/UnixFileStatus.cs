using System.Globalization;
using System.Runtime.InteropServices;

namespace Oubliette.Operations;

/// <summary>What a path is: its type, owner and permission bits (from <c>statx</c>).</summary>
internal sealed record UnixFileStatus(UnixFileKind Kind, uint Uid, uint Gid, uint Mode)
{
    /// <summary>Reads <c>struct statx</c>: stx_uid at byte 20, stx_gid at 24, stx_mode at 28 (the same on every architecture, in native byte order).</summary>
    public static UnixFileStatus From(ReadOnlySpan<byte> statx)
    {
        var uid = MemoryMarshal.Read<uint>(statx[20..]);
        var gid = MemoryMarshal.Read<uint>(statx[24..]);
        uint mode = MemoryMarshal.Read<ushort>(statx[28..]);

        var kind = (mode & 0xf000) switch
        {
            0x8000 => UnixFileKind.Regular,
            0x4000 => UnixFileKind.Directory,
            0xa000 => UnixFileKind.SymbolicLink,
            0xc000 => UnixFileKind.Socket,
            _ => UnixFileKind.Other,
        };
        return new UnixFileStatus(kind, uid, gid, mode & 0xfff);
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
