namespace Oubliette.Configuration;

/// <summary>
/// The <c>schedules</c> section. <see cref="KeepExecutions"/>: executions kept per schedule (1..1000000).
/// <see cref="MissedGraceSeconds"/>: how late (1..86400 s) a due time may be found and still run; see <c>ScheduleRunner</c>.
/// <see cref="MaxPerProject"/>: schedules that may target one project (1..10000). <see cref="MaxPromptBytes"/>: largest
/// schedule prompt in UTF-8 bytes (1..16 MiB; a schedule's prompt is stored and re-sent at every run).
/// <see cref="MinIntervalSeconds"/>: the shortest gap between runs a non-admin token may schedule (0..86400 s; admin
/// tokens may schedule any cron, seconds included).
/// </summary>
public sealed record SchedulesConfig(int KeepExecutions, int MissedGraceSeconds, int MaxPerProject = 50, int MaxPromptBytes = 65536, int MinIntervalSeconds = 60)
{
    public static readonly SchedulesConfig Default = new(100, 60);
}
