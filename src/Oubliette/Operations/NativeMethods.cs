using System.Runtime.InteropServices;

namespace Oubliette.Operations;

/// <summary>The POSIX calls .NET does not expose: the file-creation mask, signals other than SIGKILL, and chown.</summary>
internal static class NativeMethods
{
    public const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "umask", SetLastError = false)]
    public static extern uint SetUmask(uint mask);

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static extern int Kill(int pid, int signal);

    [DllImport("libc", EntryPoint = "lchown", SetLastError = true)]
    public static extern int LChown(string path, uint owner, uint group);
}
