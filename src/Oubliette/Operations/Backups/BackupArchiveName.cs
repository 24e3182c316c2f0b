using System.Globalization;

namespace Oubliette.Operations.Backups;

/// <summary>Archive file names: <c>&lt;project-id&gt;_&lt;YYYYMMDD&gt;_&lt;HHMMSS&gt;.tar.gz</c>, the time in UTC (SPEC §9).</summary>
public static class BackupArchiveName
{
    private const string Suffix = ".tar.gz";
    private const string TimeFormat = "yyyyMMdd'_'HHmmss";

    public static string For(Guid projectId, DateTimeOffset createdAt) =>
        $"{projectId:D}_{createdAt.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture)}{Suffix}";

    /// <summary>The project and time a file name stands for; false for any other name (temp files, foreign files).</summary>
    public static bool TryParse(string fileName, out Guid projectId, out DateTimeOffset createdAt)
    {
        projectId = Guid.Empty;
        createdAt = default;
        // 36 (uuid) + 1 + 15 (time) + suffix.
        if (!fileName.EndsWith(Suffix, StringComparison.Ordinal) || fileName.Length != 36 + 1 + 15 + Suffix.Length || fileName[36] != '_')
        {
            return false;
        }

        return Guid.TryParseExact(fileName[..36], "D", out projectId)
            && DateTimeOffset.TryParseExact(fileName[37..52], TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out createdAt);
    }
}
