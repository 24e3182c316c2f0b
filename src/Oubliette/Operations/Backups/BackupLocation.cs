using Oubliette.Configuration;

namespace Oubliette.Operations.Backups;

/// <summary>Where archives go: <c>defaults.backup.directory</c>, relative to the Oubliette home unless absolute, checked at start-up.</summary>
public static class BackupLocation
{
    public const string Field = "defaults.backup.directory";

    /// <summary>The absolute backup folder.</summary>
    /// <exception cref="ConfigException">The setting is empty, points into <c>data/projects/</c> (agents' folders), or names a file.</exception>
    public static string Resolve(OublietteHome home, BackupConfig backup)
    {
        if (string.IsNullOrWhiteSpace(backup.Directory))
        {
            throw Invalid(home, $"'{backup.Directory}' must not be empty: give an absolute path, or one relative to the Oubliette home (default data/backups)");
        }

        var directory = Path.GetFullPath(backup.Directory, home.Root);
        var projects = Path.GetFullPath(home.ProjectsDirectory);
        if (directory == projects || directory.StartsWith(projects + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw Invalid(home, $"'{backup.Directory}' ({directory}) is inside {projects}, where agents' files live; choose a folder outside it (default data/backups)");
        }

        if (File.Exists(directory))
        {
            throw Invalid(home, $"'{backup.Directory}' ({directory}) is a file; it must be a folder (or not exist yet)");
        }

        return directory;
    }

    /// <summary>Creates the folder owner-only (0700) when it is missing.</summary>
    public static void Ensure(string directory) =>
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

    private static ConfigException Invalid(OublietteHome home, string reason) => new(home.ConfigFile, [new ConfigError(Field, reason)]);
}
