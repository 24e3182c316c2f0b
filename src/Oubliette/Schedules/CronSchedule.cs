using Cronos;
using Oubliette.Errors;

namespace Oubliette.Schedules;

/// <summary>
/// A schedule's timing: a cron expression of 5 fields (<c>minute hour day-of-month month day-of-week</c>) or 6 (a
/// leading seconds field), read in an IANA time zone (UTC when none is given). Occurrences come from Cronos, which
/// handles daylight-saving changes as cron does: a time skipped by a forward jump runs at the jump, a time that occurs
/// twice runs once (interval expressions such as <c>*/15</c> keep their interval across the change).
/// </summary>
public sealed class CronSchedule
{
    public const int MaxExpressionLength = 200;
    private const string Allowed = "5 fields 'minute hour day-of-month month day-of-week', or 6 with a leading seconds field; e.g. '0 9 * * 1-5' or '*/30 * * * * *'";
    private static readonly string[] FiveFields = ["minute", "hour", "day-of-month", "month", "day-of-week"];
    private static readonly string[] SixFields = ["second", .. FiveFields];

    private readonly CronExpression _expression;

    private CronSchedule(CronExpression expression, TimeZoneInfo zone)
    {
        _expression = expression;
        Zone = zone;
    }

    public TimeZoneInfo Zone { get; }

    /// <summary>Parses <paramref name="cronExpr"/> read in <paramref name="timeZone"/> (null: UTC).</summary>
    /// <exception cref="InvalidArgumentException">
    /// The expression is not 5 or 6 fields, a field is wrong (named: second, minute, hour, day-of-month, month,
    /// day-of-week), it never matches a date, or the time zone is unknown.
    /// </exception>
    public static CronSchedule Parse(string? cronExpr, string? timeZone) => new(ParseExpression(cronExpr), ParseZone(timeZone));

    /// <summary>The first occurrence strictly after <paramref name="after"/>, in UTC; null when there is none.</summary>
    public DateTimeOffset? NextAfter(DateTimeOffset after) =>
        _expression.GetNextOccurrence(after, Zone, inclusive: false)?.ToUniversalTime();

    /// <summary>Up to <paramref name="count"/> occurrences from <paramref name="first"/> (included), in UTC.</summary>
    public IReadOnlyList<DateTimeOffset> Following(DateTimeOffset first, int count)
    {
        var runs = new List<DateTimeOffset>(count) { first.ToUniversalTime() };
        while (runs.Count < count && NextAfter(runs[^1]) is { } next)
        {
            runs.Add(next);
        }

        return runs;
    }

    /// <summary>The zone for an IANA id (null or empty: UTC).</summary>
    /// <exception cref="InvalidArgumentException">The id is not a time zone this machine knows.</exception>
    public static TimeZoneInfo ParseZone(string? timeZone)
    {
        if (string.IsNullOrEmpty(timeZone))
        {
            return TimeZoneInfo.Utc;
        }

        try
        {
            if (timeZone.Length <= 64)
            {
                return TimeZoneInfo.FindSystemTimeZoneById(timeZone);
            }
        }
        catch (Exception exception) when (exception is TimeZoneNotFoundException or InvalidTimeZoneException or System.Security.SecurityException
            or UnauthorizedAccessException or IOException or ArgumentException)
        {
            // A folder of the zone database ('Europe') or an unreadable file is as unknown as a made-up name.
            // Named below with what is allowed.
        }

        throw new InvalidArgumentException($"time_zone '{Shorten(timeZone)}' is not a known IANA time zone (e.g. UTC, Europe/Berlin, America/New_York; leave it out for UTC)");
    }

    private static CronExpression ParseExpression(string? cronExpr)
    {
        if (string.IsNullOrWhiteSpace(cronExpr))
        {
            throw new InvalidArgumentException($"'cron_expr' is required ({Allowed})");
        }

        var fields = cronExpr.Length > MaxExpressionLength ? [] : cronExpr.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length is not (5 or 6))
        {
            throw new InvalidArgumentException($"cron_expr '{Shorten(cronExpr)}' has {(fields.Length == 0 ? "too many characters" : fields.Length == 1 ? "1 field" : $"{fields.Length} fields")} (allowed: {Allowed})");
        }

        var format = fields.Length == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard;
        CronExpression expression;
        try
        {
            expression = CronExpression.Parse(cronExpr, format);
        }
        catch (CronFormatException exception)
        {
            // Cronos names its own field ("Minutes: …") only sometimes: find the wrong field by parsing each alone.
            var names = fields.Length == 6 ? SixFields : FiveFields;
            var wrong = Enumerable.Range(0, fields.Length).FirstOrDefault(index => !FieldParses(fields, index, format), -1);
            // Cronos's own text only when no single field is to blame (it names its fields differently from cron).
            var which = wrong < 0 ? $" ({exception.Message.TrimEnd('.')})" : $": the {names[wrong]} field '{Shorten(fields[wrong])}' is wrong";
            throw new InvalidArgumentException($"cron_expr '{Shorten(cronExpr)}' is not valid{which}; allowed: {Allowed}");
        }

        // Cron has no year field: a day that exists at all (not 30 February) comes within a few years of any date.
        if (expression.GetNextOccurrence(new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc), inclusive: true) is null)
        {
            throw new InvalidArgumentException($"cron_expr '{Shorten(cronExpr)}' never matches a date (allowed: {Allowed})");
        }

        return expression;
    }

    private static bool FieldParses(string[] fields, int index, CronFormat format)
    {
        var probe = fields.Select((field, position) => position == index ? field : "*");
        return CronExpression.TryParse(string.Join(' ', probe), format, out _);
    }

    private static string Shorten(string value) => value.Length > 60 ? value[..60] + "…" : value;
}
