using System.Runtime.InteropServices;

namespace Oubliette.Operations;

/// <summary>Hands folders to the container user (uid 1000), so the agent can write what it is given.</summary>
public static class FileOwnership
{
    public static void ChownRecursive(string path, uint uid, uint gid)
    {
        Chown(path, uid, gid);
        if (!Directory.Exists(path) || new DirectoryInfo(path).LinkTarget is not null)
        {
            return;
        }

        foreach (var entry in Directory.EnumerateFileSystemEntries(path, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            Chown(entry, uid, gid);
        }
    }

    private static void Chown(string path, uint uid, uint gid)
    {
        if (NativeMethods.LChown(path, uid, gid) != 0)
        {
            throw new IOException($"chown {uid}:{gid} {path} failed (errno {Marshal.GetLastPInvokeError()})");
        }
    }
}
