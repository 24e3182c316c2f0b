using Oubliette.Errors;
using Oubliette.Schedules;

namespace Oubliette.Tests.Schedules;

/// <summary>Cron expressions with and without seconds, IANA time zones across daylight-saving changes, and the errors for bad input.</summary>
public sealed class CronScheduleTests
{
    private static DateTimeOffset Utc(int year, int month, int day, int hour, int minute, int second = 0) => new(year, month, day, hour, minute, second, TimeSpan.Zero);

    [Fact]
    public void Five_fields_run_at_minute_precision_in_UTC_by_default()
    {
        var cron = CronSchedule.Parse("30 9 * * 1-5", null);

        // Friday 2026-03-06 10:00 UTC: the next weekday 09:30 is Monday.
        Assert.Equal(Utc(2026, 3, 9, 9, 30), cron.NextAfter(Utc(2026, 3, 6, 10, 0)));
        Assert.Equal(TimeZoneInfo.Utc, cron.Zone);
    }

    [Fact]
    public void A_sixth_leading_field_is_seconds()
    {
        var cron = CronSchedule.Parse("*/20 * * * * *", null);

        Assert.Equal(
            [Utc(2026, 1, 1, 0, 0, 20), Utc(2026, 1, 1, 0, 0, 40), Utc(2026, 1, 1, 0, 1, 0)],
            cron.Following(cron.NextAfter(Utc(2026, 1, 1, 0, 0, 5))!.Value, 3));
    }

    [Fact]
    public void Next_runs_follow_the_zone_across_the_spring_and_autumn_changes()
    {
        var cron = CronSchedule.Parse("30 2 * * *", "Europe/Berlin");

        // 29 March 2026: clocks jump from 02:00 to 03:00 CET→CEST; the skipped 02:30 runs at the jump (01:00 UTC).
        var spring = cron.Following(cron.NextAfter(Utc(2026, 3, 27, 12, 0))!.Value, 3);
        // 25 October 2026: 02:30 happens twice (CEST, then CET); it runs once, the first time.
        var autumn = cron.Following(cron.NextAfter(Utc(2026, 10, 24, 12, 0))!.Value, 2);

        Assert.Equal([Utc(2026, 3, 28, 1, 30), Utc(2026, 3, 29, 1, 0), Utc(2026, 3, 30, 0, 30)], spring);
        Assert.Equal([Utc(2026, 10, 25, 0, 30), Utc(2026, 10, 26, 1, 30)], autumn);
    }

    [Fact]
    public void A_New_York_morning_run_keeps_its_local_time_across_the_change()
    {
        var cron = CronSchedule.Parse("0 8 * * *", "America/New_York");

        // 8 March 2026 is the US spring change: 08:00 EST is 13:00 UTC before, 08:00 EDT is 12:00 UTC after.
        Assert.Equal([Utc(2026, 3, 7, 13, 0), Utc(2026, 3, 8, 12, 0)], cron.Following(cron.NextAfter(Utc(2026, 3, 7, 0, 0))!.Value, 2));
    }

    [Theory]
    [InlineData("61 * * * *", "minute", "61")]
    [InlineData("0 24 * * *", "hour", "24")]
    [InlineData("0 0 32 * *", "day-of-month", "32")]
    [InlineData("0 0 1 13 *", "month", "13")]
    [InlineData("0 0 * * FUNDAY", "day-of-week", "FUNDAY")]
    [InlineData("75 0 0 * * *", "second", "75")]
    [InlineData("0 61 0 * * *", "minute", "61")]
    [InlineData("*/0 * * * *", "minute", "*/0")]
    public void A_bad_field_is_named_with_its_value(string expression, string field, string value)
    {
        var error = Assert.Throws<InvalidArgumentException>(() => CronSchedule.Parse(expression, null));

        Assert.StartsWith($"cron_expr '{expression}' is not valid: the {field} field '{value}' is wrong; allowed: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("allowed: 5 fields 'minute hour day-of-month month day-of-week', or 6 with a leading seconds field", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("* * * *", "has 4 fields")]
    [InlineData("* * * * * * *", "has 7 fields")]
    [InlineData("@daily", "has 1 field")]
    public void A_wrong_number_of_fields_is_refused_with_what_is_allowed(string expression, string expected)
    {
        var error = Assert.Throws<InvalidArgumentException>(() => CronSchedule.Parse(expression, null));

        Assert.Equal($"cron_expr '{expression}' {expected} (allowed: 5 fields 'minute hour day-of-month month day-of-week', or 6 with a leading seconds field; e.g. '0 9 * * 1-5' or '*/30 * * * * *')", error.Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void A_missing_expression_is_named(string? expression)
    {
        var error = Assert.Throws<InvalidArgumentException>(() => CronSchedule.Parse(expression, null));

        Assert.StartsWith("'cron_expr' is required (", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_expression_that_never_matches_a_date_is_refused()
    {
        var error = Assert.Throws<InvalidArgumentException>(() => CronSchedule.Parse("0 0 30 2 *", null));

        Assert.StartsWith("cron_expr '0 0 30 2 *' never matches a date", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Mars/Olympus_Mons")]
    [InlineData("utc+25")]
    public void An_unknown_time_zone_is_named(string zone)
    {
        var error = Assert.Throws<InvalidArgumentException>(() => CronSchedule.Parse("0 9 * * *", zone));

        Assert.Equal($"time_zone '{zone}' is not a known IANA time zone (e.g. UTC, Europe/Berlin, America/New_York; leave it out for UTC)", error.Message);
    }
}
