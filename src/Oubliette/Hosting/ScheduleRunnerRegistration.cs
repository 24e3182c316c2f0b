using Oubliette.Configuration;
using Oubliette.Schedules;

namespace Oubliette.Hosting;

/// <summary>
/// Registers the schedule runner: one instance, both the hosted service and the <see cref="IScheduleRunner"/> the
/// <c>schedule</c> tool wakes and triggers. Needs an <see cref="IScheduleRunStore"/> registered beside it (the SQLite
/// store of <c>data/schedules.db</c>), and must come after <c>SessionRecoveryService</c> so pinned sessions are loaded
/// before the first run.
/// </summary>
public static class ScheduleRunnerRegistration
{
    public static IServiceCollection Add(IServiceCollection services)
    {
        services.AddSingleton(provider => provider.GetRequiredService<OublietteConfig>().Schedules);
        services.AddSingleton<IScheduledSessions, SessionServiceScheduledSessions>();
        services.AddSingleton<IScheduleTokens, TokenStoreScheduleTokens>();
        services.AddSingleton<ScheduleRunner>();
        services.AddSingleton<IScheduleRunner>(provider => provider.GetRequiredService<ScheduleRunner>());
        services.AddHostedService(provider => provider.GetRequiredService<ScheduleRunner>());
        return services;
    }
}
