using Cronos;
using Oubliette.Errors;

namespace Oubliette.Schedules;

/// <summary>
/// Due times of a cron expression (Cronos): 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading
/// seconds field, read in an IANA time zone (UTC when null). Cronos handles DST: a time that does not exist on the
/// spring-forward day runs at the jump, a time that exists twice on the fall-back day runs once (the first).
/// Pure functions; every result is in UTC.
/// </summary>
public static class CronTimes
{
    private static readonly string[] FiveFields = ["minute", "hour", "day-of-month", "month", "day-of-week"];
    private static readonly string[] SixFields = ["second", "minute", "hour", "day-of-month", "month", "day-of-week"];

    /// <summary>The parsed expression; <see cref="InvalidArgumentException"/> naming the bad field of the expression.</summary>
    public static CronExpression Parse(string? cronExpr)
    {
        if (string.IsNullOrWhiteSpace(cronExpr))
        {
            throw new InvalidArgumentException("cron_expr is required (5 fields: minute hour day-of-month month day-of-week, or 6 with a leading seconds field)");
        }

        var fields = cronExpr.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length is not (5 or 6))
        {
            throw new InvalidArgumentException(
                $"cron_expr '{cronExpr}' has {fields.Length} fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (second minute hour day-of-month month day-of-week)");
        }

        var format = fields.Length == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard;
        try
        {
            return CronExpression.Parse(string.Join(' ', fields), format);
        }
        catch (CronFormatException exception)
        {
            throw new InvalidArgumentException($"cron_expr '{cronExpr}': {FieldProblem(fields, format) ?? exception.Message}");
        }
    }

    /// <summary>The time zone for an IANA id (UTC when null); <see cref="InvalidArgumentException"/> when unknown.</summary>
    public static TimeZoneInfo Zone(string? timeZone)
    {
        if (timeZone is null)
        {
            return TimeZoneInfo.Utc;
        }

        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(timeZone);
        }
        catch (Exception exception) when (exception is TimeZoneNotFoundException or InvalidTimeZoneException or ArgumentException)
        {
            throw new InvalidArgumentException($"time_zone '{timeZone}' is not a known IANA time zone (for example UTC, Europe/Berlin, America/New_York)");
        }
    }

    /// <summary>The first due time strictly after <paramref name="after"/>, in UTC; null when the expression never fires again.</summary>
    public static DateTimeOffset? Next(string cronExpr, string? timeZone, DateTimeOffset after) =>
        Parse(cronExpr).GetNextOccurrence(after.ToUniversalTime(), Zone(timeZone))?.ToUniversalTime();

    /// <summary>Up to <paramref name="count"/> due times strictly after <paramref name="after"/>, in UTC, earliest first.</summary>
    public static IReadOnlyList<DateTimeOffset> NextRuns(string cronExpr, string? timeZone, DateTimeOffset after, int count)
    {
        var expression = Parse(cronExpr);
        var zone = Zone(timeZone);
        var runs = new List<DateTimeOffset>(count);
        var from = after.ToUniversalTime();
        while (runs.Count < count && expression.GetNextOccurrence(from, zone) is { } next)
        {
            runs.Add(next.ToUniversalTime());
            from = next;
        }

        return runs;
    }

    /// <summary>Which field is wrong: each field is tried alone (the others '*'), so the message can name it.</summary>
    private static string? FieldProblem(string[] fields, CronFormat format)
    {
        var names = fields.Length == 6 ? SixFields : FiveFields;
        for (var index = 0; index < fields.Length; index++)
        {
            var probe = new string[fields.Length];
            Array.Fill(probe, "*");
            probe[index] = fields[index];
            try
            {
                CronExpression.Parse(string.Join(' ', probe), format);
            }
            catch (CronFormatException)
            {
                return $"the {names[index]} field '{fields[index]}' (field {index + 1} of {fields.Length}) is not valid";
            }
        }

        return null;
    }
}
