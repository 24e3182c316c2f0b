using Oubliette.Sessions;

namespace Oubliette.Cleanup;

/// <summary>
/// Registers the housekeeping: the cleanup pass with its kinds (<c>defaults.cleanup</c>) and the idle timeout
/// (<c>defaults.limits.session_idle_timeout_minutes</c>). Needs the stores, the session service and the container
/// runtime registered beside it.
/// </summary>
public static class CleanupRegistration
{
    public static IServiceCollection Add(IServiceCollection services)
    {
        services.AddSingleton<ICleanupTask, EndedSessionsCleanup>();
        services.AddSingleton<ICleanupTask, ExpiredTokensCleanup>();
        services.AddSingleton<ICleanupTask, StaleRunFilesCleanup>();
        services.AddSingleton<ICleanupTask, TempFilesCleanup>();
        services.AddSingleton<ICleanupTask, OrphanContainersCleanup>();
        services.AddSingleton<ICleanupTask, LogFilesCleanup>();
        services.AddSingleton<CleanupService>();
        services.AddHostedService(provider => provider.GetRequiredService<CleanupService>());
        services.AddHostedService<SessionIdleTimeoutService>();
        return services;
    }
}
