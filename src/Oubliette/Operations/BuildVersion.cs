using System.Reflection;

namespace Oubliette.Operations;

/// <summary>
/// The build this process runs: the assembly's informational version, e.g. <c>0.1.0+ba62e35d…</c> (the part after '+'
/// is the git commit the SDK stamps as SourceRevisionId when it builds from a repository; absent otherwise).
/// Shown by <c>oubliette --version</c>, <c>/health</c>, <c>oubliette status</c> and the start-up log line.
/// </summary>
public static class BuildVersion
{
    public static string Current { get; } =
        typeof(BuildVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(BuildVersion).Assembly.GetName().Version?.ToString()
        ?? "unknown";
}
