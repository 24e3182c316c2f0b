namespace Oubliette.Configuration;

/// <summary>
/// The machine-wide note of which home <c>./run.sh</c> set up (default <c>/etc/oubliette/home</c>, one line: an absolute
/// path), so that every later <c>oubliette</c> command and a new shell in any directory find the same home without
/// <c>--dir</c> or <c>OUBLIETTE_HOME</c>. <c>OUBLIETTE_HOME_RECORD</c> names another file (tests, non-root installs).
/// </summary>
public sealed class HomeRecord(string path)
{
    public const string DefaultPath = "/etc/oubliette/home";
    public const string PathEnvironmentVariable = "OUBLIETTE_HOME_RECORD";

    public string Path => path;

    public static HomeRecord From(Func<string, string?> environment) =>
        new(environment(PathEnvironmentVariable) is { Length: > 0 } overridden ? overridden : DefaultPath);

    /// <summary>The recorded home, or null when there is no record (or it is empty, unreadable or not absolute).</summary>
    public string? Read()
    {
        try
        {
            var recorded = File.Exists(path) ? File.ReadAllText(path).Trim() : "";
            return System.IO.Path.IsPathFullyQualified(recorded) ? recorded : null;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // An unreadable record is no record: resolution falls back to ~/.oubliette, as before there was one.
            return null;
        }
    }
}
