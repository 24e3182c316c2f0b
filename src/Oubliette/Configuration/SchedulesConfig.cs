namespace Oubliette.Configuration;

/// <summary>
/// The <c>schedules</c> section. <see cref="KeepExecutions"/>: executions kept per schedule (1..1000000).
/// <see cref="MissedGraceSeconds"/>: how late (1..86400 s) a due time may be found and still run; see <c>ScheduleRunner</c>.
/// </summary>
public sealed record SchedulesConfig(int KeepExecutions, int MissedGraceSeconds)
{
    public static readonly SchedulesConfig Default = new(100, 60);
}
