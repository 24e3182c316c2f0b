namespace Oubliette.Operations;

/// <summary>The file types <see cref="UnixFiles"/> tells apart.</summary>
internal enum UnixFileKind
{
    Other,
    Regular,
    Directory,
    SymbolicLink,
    Socket,
}
