using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Schedules;

namespace Oubliette.Operations.Backups;

/// <summary>
/// Periodic backups (<c>defaults.backup</c>): when enabled, every <c>interval_hours</c> (the first one an interval
/// after start) an archive of every project, then all but the newest <c>retention</c> archives of each project are
/// removed. One log line per run; metrics for the last success and its size. The folder is checked at start-up even when
/// backups are off, so that turning them on later cannot reveal a bad path only then.
/// </summary>
public sealed partial class BackupService : BackgroundService
{
    private readonly BackupConfig _config;
    private readonly BackupCreator _creator;
    private readonly OublietteMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<BackupService> _logger;
    private PeriodicTimer? _timer;

    /// <exception cref="ConfigException"><c>defaults.backup.directory</c> is not usable.</exception>
    public BackupService(OublietteHome home, OublietteConfig config, TokenStore tokens, ScheduleStore schedules, OublietteMetrics metrics, TimeProvider time, ILogger<BackupService> logger)
    {
        _config = config.Defaults.Backup;
        _creator = new BackupCreator(home, BackupLocation.Resolve(home, _config), tokens.Database, schedules.Database, time);
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Made here, not in ExecuteAsync (which runs on a pool thread some time later): the first interval counts from start.
        _timer = _config.Enabled ? new PeriodicTimer(TimeSpan.FromHours(_config.IntervalHours), _time) : null;
        return base.StartAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _timer?.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_timer is not { } timer)
        {
            return;
        }

        LogScheduled(_logger, _config.IntervalHours, _creator.Directory, _config.Retention);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await RunOnceAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down; an archive being written is left as a temp file and never renamed into place.
        }
    }

    /// <summary>One run: archives of every project, then retention. Failures are logged and counted, never thrown.</summary>
    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        try
        {
            var archives = await _creator.CreateAsync(null, includeWorkspaces: false, cancellationToken);
            var removed = BackupCatalog.Prune(_creator.Directory, _config.Retention);
            var size = archives.Sum(archive => archive.SizeBytes);
            _metrics.BackupRuns.WithLabels("success").Inc();
            _metrics.BackupLastSuccess.Set(_time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0);
            _metrics.BackupLastSize.Set(size);
            LogDone(_logger, archives.Count, size, removed.Count, _creator.Directory);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _metrics.BackupRuns.WithLabels("failure").Inc();
            LogFailed(_logger, exception, _creator.Directory);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "backups every {IntervalHours} h into {Directory}, keeping {Retention} per project")]
    private static partial void LogScheduled(ILogger logger, int intervalHours, string directory, int retention);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "backup: {Archives} project archives ({Bytes} bytes) written, {Removed} past retention removed, in {Directory}")]
    private static partial void LogDone(ILogger logger, int archives, long bytes, int removed, string directory);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "backup into {Directory} failed; the next run tries again")]
    private static partial void LogFailed(ILogger logger, Exception exception, string directory);
}
