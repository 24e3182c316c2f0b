using System.Globalization;
using Oubliette.Configuration;

namespace Oubliette.Cleanup;

/// <summary>
/// Rotated server logs (<c>data/logs/oubliette-yyyyMMdd.log</c>) of days more than <c>logging.retention_days</c> ago:
/// today's file and those of the last retention_days - 1 days stay. Logs keep their own retention (days, not
/// cleanup minutes): an hour's retention must not take yesterday's log. Nothing else in data/logs is touched.
/// </summary>
public sealed class LogFilesCleanup(OublietteHome home, OublietteConfig config) : ICleanupTask
{
    private const string Prefix = "oubliette-";
    private const string Suffix = ".log";

    public string Kind => "log_files";

    public Task<int> RunAsync(DateTimeOffset now, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(home.LogsDirectory))
        {
            return Task.FromResult(0);
        }

        var oldestKept = DateOnly.FromDateTime(now.UtcDateTime).AddDays(-(config.Logging.RetentionDays - 1));
        var removed = 0;
        foreach (var file in new DirectoryInfo(home.LogsDirectory).EnumerateFiles($"{Prefix}*{Suffix}"))
        {
            var day = file.Name[Prefix.Length..^Suffix.Length];
            if (file.LinkTarget is null
                && DateOnly.TryParseExact(day, "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
                && date < oldestKept)
            {
                file.Delete();
                removed++;
            }
        }

        return Task.FromResult(removed);
    }
}
