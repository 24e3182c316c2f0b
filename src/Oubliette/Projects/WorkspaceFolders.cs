using System.Runtime.InteropServices;
using Oubliette.Errors;
using Oubliette.Operations;

namespace Oubliette.Projects;

/// <summary>
/// The host side of <c>/workspace</c>: the workspaces folder is root-owned 0755 (the agent cannot add, remove or
/// replace its entries), each workspace is a fresh folder handed to uid 1000 with one <c>lchown</c>, and nothing the
/// agent wrote is ever chowned or followed (SPEC §12).
/// </summary>
internal static class WorkspaceFolders
{
    private const UnixFileMode Traversable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>Creates the workspaces folder, or takes an existing one (an older version gave it to uid 1000) back for root.</summary>
    public static void EnsureRoot(string workspaces)
    {
        var info = new DirectoryInfo(workspaces);
        if (info.Exists && info.LinkTarget is not null)
        {
            throw new ExternalFailureException($"{workspaces} is a symbolic link; refusing to use it as the workspaces folder");
        }

        Directory.CreateDirectory(workspaces);
        LChown(workspaces, 0, 0);
        File.SetUnixFileMode(workspaces, Traversable);
    }

    /// <summary>A new, empty folder owned by the agent user; fails if anything is already there.</summary>
    public static void CreateForAgent(string folder, UnixFileMode mode)
    {
        if (Path.Exists(folder) || new FileInfo(folder).LinkTarget is not null)
        {
            throw new ExternalFailureException($"{folder} already exists");
        }

        Directory.CreateDirectory(folder, mode);
        LChown(folder, ProjectContainers.AgentUid, ProjectContainers.AgentUid);
    }

    /// <summary>A root-owned folder others may enter (for mount points of the git sandbox).</summary>
    public static void CreateTraversable(string folder)
    {
        Directory.CreateDirectory(folder);
        File.SetUnixFileMode(folder, Traversable);
    }

    /// <summary>
    /// Removes a folder the agent may have written into (and may still be writing into) without following any link:
    /// GNU <c>rm</c> walks with <c>openat</c>/<c>O_NOFOLLOW</c>, so a directory swapped for a link mid-walk is unlinked,
    /// not entered. .NET's recursive delete works on paths and could be raced into a planted link.
    /// </summary>
    public static async Task DeleteAsync(string folder, CancellationToken cancellationToken)
    {
        if (!Path.Exists(folder) && new FileInfo(folder).LinkTarget is null)
        {
            return;
        }

        await ProcessRunner.RunAsync("rm", ["-rf", "--one-file-system", "--", folder], new Progress<string>(), cancellationToken);
    }

    private static void LChown(string path, uint uid, uint gid)
    {
        if (NativeMethods.LChown(path, uid, gid) != 0)
        {
            throw new IOException($"lchown {uid}:{gid} {path} failed (errno {Marshal.GetLastPInvokeError()})");
        }
    }
}
