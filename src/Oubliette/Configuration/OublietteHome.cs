namespace Oubliette.Configuration;

/// <summary>The home directory and every path the server keeps under it.</summary>
public sealed record OublietteHome(string Root)
{
    public const string HomeEnvironmentVariable = "OUBLIETTE_HOME";

    public string ConfigDirectory => Path.Combine(Root, "config");
    public string ConfigFile => Path.Combine(ConfigDirectory, "oubliette.jsonc");
    public string DataDirectory => Path.Combine(Root, "data");
    public string AuthDatabase => Path.Combine(DataDirectory, "auth.db");
    public string SchedulesDatabase => Path.Combine(DataDirectory, "schedules.db");
    public string LogsDirectory => Path.Combine(DataDirectory, "logs");
    public string AuditLog => Path.Combine(LogsDirectory, "audit.log");
    public string DaemonLog => Path.Combine(LogsDirectory, "daemon.out");
    public string RunDirectory => Path.Combine(DataDirectory, "run");
    public string PidFile => Path.Combine(RunDirectory, "oubliette.pid");
    public string AddressFile => Path.Combine(RunDirectory, "oubliette.address");
    public string ProjectsDirectory => Path.Combine(DataDirectory, "projects");
    public string DefaultGatewaySocket => Path.Combine(RunDirectory, "gateway", "gateway.sock");

    /// <summary>
    /// Resolves the home as SPEC §2 orders it: <c>--dir</c>, <c>OUBLIETTE_HOME</c>, <c>./.oubliette</c> (when it exists), the
    /// home recorded by <c>./run.sh</c> (<see cref="HomeRecord"/>, when there is one), <c>~/.oubliette</c>.
    /// </summary>
    public static OublietteHome Resolve(string? dirOption, Func<string, string?> environment, string currentDirectory, string userHome, string? recordedHome = null)
    {
        if (!string.IsNullOrWhiteSpace(dirOption))
        {
            return new OublietteHome(Path.GetFullPath(dirOption, currentDirectory));
        }

        var fromEnvironment = environment(HomeEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return new OublietteHome(Path.GetFullPath(fromEnvironment, currentDirectory));
        }

        var local = Path.Combine(currentDirectory, ".oubliette");
        if (Directory.Exists(local))
        {
            return new OublietteHome(local);
        }

        return !string.IsNullOrWhiteSpace(recordedHome)
            ? new OublietteHome(recordedHome)
            : new OublietteHome(Path.Combine(userHome, ".oubliette"));
    }

    /// <summary>Creates the data folders (0700) that every command may write to.</summary>
    public void EnsureDataDirectories()
    {
        foreach (var directory in new[] { DataDirectory, LogsDirectory, RunDirectory, ProjectsDirectory })
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
