namespace Oubliette.Cli;

/// <summary>
/// Keeps a client config that holds a bearer secret out of git: <c>mcp --setup claude-code</c> writes <c>.mcp.json</c>
/// into the project folder, a file Claude Code users are used to committing. The path goes into the repository's
/// own <c>.git/info/exclude</c>, which is never committed, so no tracked file of the user's changes.
/// </summary>
internal static class GitExclude
{
    /// <summary>
    /// Adds <paramref name="path"/> (relative to its work tree, anchored with a leading slash) to the exclude file of
    /// the nearest enclosing repository whose <c>.git</c> is a folder. Returns the exclude file when the path is (now)
    /// listed there; null when the file is in no such repository or the exclude file cannot be written.
    /// </summary>
    public static string? Add(string path)
    {
        var directory = new DirectoryInfo(Path.GetDirectoryName(Path.GetFullPath(path))!);
        while (directory is not null && !Directory.Exists(Path.Combine(directory.FullName, ".git")))
        {
            directory = directory.Parent;
        }

        if (directory is null)
        {
            return null;
        }

        var exclude = Path.Combine(directory.FullName, ".git", "info", "exclude");
        var pattern = "/" + Path.GetRelativePath(directory.FullName, Path.GetFullPath(path)).Replace('\\', '/');
        try
        {
            if (File.Exists(exclude) && File.ReadLines(exclude).Any(line => line.Trim() == pattern))
            {
                return exclude;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(exclude)!);
            var text = File.Exists(exclude) ? File.ReadAllText(exclude) : "";
            var separator = text.Length == 0 || text.EndsWith('\n') ? "" : "\n";
            File.AppendAllText(exclude, $"{separator}# holds an Oubliette bearer token (oubliette mcp --setup)\n{pattern}\n");
            return exclude;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
