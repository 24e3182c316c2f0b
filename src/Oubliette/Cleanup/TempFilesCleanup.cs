using System.Text.RegularExpressions;
using Oubliette.Configuration;

namespace Oubliette.Cleanup;

/// <summary>
/// Temp files the server writes and renames at once, left behind by a crash: <c>&lt;name&gt;.&lt;32 hex&gt;.tmp</c>
/// (AtomicFile, and UnixFiles with a leading dot) and <c>oubliette.pid|address.&lt;pid&gt;.tmp</c> (RunFiles), last written at
/// or before the cut-off. Only the folders the server writes such files in are looked at, none recursively: config/,
/// data/, data/run/, and per project its own folder, <c>sessions/</c>, <c>agent-config/</c> and the same in each
/// <c>hosts/&lt;workspace-id&gt;/</c>. Never a workspace, never the agent's <c>run/</c>, never a link.
/// </summary>
public sealed partial class TempFilesCleanup(OublietteHome home) : ICleanupTask
{
    public string Kind => "temp_files";

    public Task<int> RunAsync(DateTimeOffset now, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var removed = Remove(home.ConfigDirectory, AtomicTemp(), cutoff) + Remove(home.DataDirectory, AtomicTemp(), cutoff)
            + Remove(home.RunDirectory, RunFileTemp(), cutoff);
        foreach (var project in Subfolders(home.ProjectsDirectory))
        {
            cancellationToken.ThrowIfCancellationRequested();
            removed += ProjectFolders(project).Sum(folder => Remove(folder, AtomicTemp(), cutoff));
            foreach (var host in Subfolders(Path.Combine(project, "hosts")))
            {
                removed += ProjectFolders(host).Sum(folder => Remove(folder, AtomicTemp(), cutoff));
            }
        }

        return Task.FromResult(removed);
    }

    private static IEnumerable<string> ProjectFolders(string folder) =>
        [folder, Path.Combine(folder, "sessions"), Path.Combine(folder, "agent-config")];

    /// <summary>Real folders only: a link in place of one is not followed.</summary>
    private static IEnumerable<string> Subfolders(string folder) =>
        Directory.Exists(folder)
            ? new DirectoryInfo(folder).EnumerateDirectories().Where(child => child.LinkTarget is null).Select(child => child.FullName)
            : [];

    private static int Remove(string folder, Regex pattern, DateTimeOffset cutoff)
    {
        var info = new DirectoryInfo(folder);
        if (!info.Exists || info.LinkTarget is not null)
        {
            return 0;
        }

        var removed = 0;
        foreach (var file in info.EnumerateFiles("*.tmp"))
        {
            if (file.LinkTarget is null && pattern.IsMatch(file.Name) && file.LastWriteTimeUtc <= cutoff.UtcDateTime)
            {
                file.Delete();
                removed++;
            }
        }

        return removed;
    }

    [GeneratedRegex(@"^.+\.[0-9a-f]{32}\.tmp$")]
    private static partial Regex AtomicTemp();

    [GeneratedRegex(@"^(oubliette\.(pid|address)\.[0-9]+|.+\.[0-9a-f]{32})\.tmp$")]
    private static partial Regex RunFileTemp();
}
