using Oubliette.Errors;
using Oubliette.Schedules;

namespace Oubliette.Tests.Schedules;

public sealed class CronTimesTests
{
    private static DateTimeOffset Utc(int year, int month, int day, int hour, int minute, int second = 0) => new(year, month, day, hour, minute, second, TimeSpan.Zero);

    [Fact]
    public void A_six_field_expression_has_a_leading_seconds_field()
    {
        var runs = CronTimes.NextRuns("*/10 * * * * *", null, Utc(2026, 6, 1, 12, 0, 3), 3);

        Assert.Equal([Utc(2026, 6, 1, 12, 0, 10), Utc(2026, 6, 1, 12, 0, 20), Utc(2026, 6, 1, 12, 0, 30)], runs);
    }

    [Fact]
    public void A_five_field_expression_is_minute_precise_and_the_next_run_is_strictly_after()
    {
        // 2026-05-29 is a Friday: the next weekday 09:30 after Friday 09:30 itself is Monday's.
        Assert.Equal(Utc(2026, 6, 1, 9, 30), CronTimes.Next("30 9 * * 1-5", null, Utc(2026, 5, 29, 9, 30)));
    }

    [Fact]
    public void Berlin_spring_forward_runs_a_skipped_local_time_once_at_the_jump()
    {
        // 2026-03-29 02:00 CET becomes 03:00 CEST: 02:30 does not exist that day.
        var runs = CronTimes.NextRuns("30 2 * * *", "Europe/Berlin", Utc(2026, 3, 27, 12, 0), 3);

        Assert.Equal([Utc(2026, 3, 28, 1, 30), Utc(2026, 3, 29, 1, 0), Utc(2026, 3, 30, 0, 30)], runs);
    }

    [Fact]
    public void Berlin_fall_back_runs_a_repeated_local_time_once()
    {
        // 2026-10-25 03:00 CEST becomes 02:00 CET: 02:30 happens twice (00:30 and 01:30 UTC); the schedule runs once.
        var runs = CronTimes.NextRuns("30 2 * * *", "Europe/Berlin", Utc(2026, 10, 23, 12, 0), 3);

        Assert.Equal([Utc(2026, 10, 24, 0, 30), Utc(2026, 10, 25, 0, 30), Utc(2026, 10, 26, 1, 30)], runs);
    }

    [Fact]
    public void New_York_keeps_local_nine_oclock_across_daylight_saving()
    {
        // DST starts 2026-03-08: 09:00 EST is 14:00 UTC, 09:00 EDT is 13:00 UTC.
        var runs = CronTimes.NextRuns("0 9 * * *", "America/New_York", Utc(2026, 3, 6, 15, 0), 3);

        Assert.Equal([Utc(2026, 3, 7, 14, 0), Utc(2026, 3, 8, 13, 0), Utc(2026, 3, 9, 13, 0)], runs);
    }

    [Fact]
    public void Results_are_in_utc()
    {
        var next = CronTimes.Next("0 9 * * *", "Europe/Berlin", Utc(2026, 6, 1, 0, 0));

        Assert.Equal(TimeSpan.Zero, next?.Offset);
        Assert.Equal(Utc(2026, 6, 1, 7, 0), next);
    }

    [Theory]
    [InlineData("61 * * * *", "cron_expr '61 * * * *': the minute field '61' (field 1 of 5) is not valid")]
    [InlineData("0 25 * * *", "cron_expr '0 25 * * *': the hour field '25' (field 2 of 5) is not valid")]
    [InlineData("0 0 9 * * mon-xyz", "cron_expr '0 0 9 * * mon-xyz': the day-of-week field 'mon-xyz' (field 6 of 6) is not valid")]
    [InlineData("70 * * * * *", "cron_expr '70 * * * * *': the second field '70' (field 1 of 6) is not valid")]
    [InlineData("* * * *", "cron_expr '* * * *' has 4 fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (second minute hour day-of-month month day-of-week)")]
    [InlineData("", "cron_expr is required (5 fields: minute hour day-of-month month day-of-week, or 6 with a leading seconds field)")]
    public void A_bad_expression_names_the_field(string expression, string expected)
    {
        var exception = Assert.Throws<InvalidArgumentException>(() => CronTimes.Parse(expression));

        Assert.Equal(expected, exception.Message);
    }

    [Fact]
    public void An_unknown_time_zone_is_refused_by_name()
    {
        var exception = Assert.Throws<InvalidArgumentException>(() => CronTimes.Next("* * * * *", "Mars/Olympus", Utc(2026, 1, 1, 0, 0)));

        Assert.Equal("time_zone 'Mars/Olympus' is not a known IANA time zone (for example UTC, Europe/Berlin, America/New_York)", exception.Message);
    }

    [Fact]
    public void An_expression_that_never_fires_again_has_no_next_run()
    {
        Assert.Null(CronTimes.Next("0 0 30 2 *", null, Utc(2026, 1, 1, 0, 0)));
        Assert.Empty(CronTimes.NextRuns("0 0 30 2 *", null, Utc(2026, 1, 1, 0, 0), 5));
    }
}
