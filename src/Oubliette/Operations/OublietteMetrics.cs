using Prometheus;

namespace Oubliette.Operations;

/// <summary>
/// Every metric the server exports (SPEC §3), on an injected registry so that tests get their own.
/// Label values are bounded: paths are route templates, statuses are numbers, projects are ids the server created.
/// </summary>
public sealed class OublietteMetrics
{
    public OublietteMetrics(CollectorRegistry registry)
    {
        Registry = registry;
        var factory = Metrics.WithCustomRegistry(registry);
        Requests = factory.CreateCounter("oubliette_requests_total", "HTTP requests by method, route template and status.",
            new CounterConfiguration { LabelNames = ["method", "path", "status"] });
        RequestDuration = factory.CreateHistogram("oubliette_request_duration_seconds", "HTTP request latency by method and route template.",
            new HistogramConfiguration
            {
                LabelNames = ["method", "path"],
                Buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
            });
        ActiveSessions = factory.CreateGauge("oubliette_active_sessions", "Active agent sessions per project.",
            new GaugeConfiguration { LabelNames = ["project_id"] });
        SessionDuration = factory.CreateHistogram("oubliette_session_duration_seconds", "Duration of ended agent sessions.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(1, 2, 16) });
        SessionsSpawned = factory.CreateCounter("oubliette_sessions_spawned_total", "Sessions spawned by project and result.",
            new CounterConfiguration { LabelNames = ["project_id", "result"] });
        SessionEvents = factory.CreateCounter("oubliette_session_events_total", "Session events by type.",
            new CounterConfiguration { LabelNames = ["type"] });
        LlmTokens = factory.CreateCounter("oubliette_llm_tokens_total", "Model tokens by project and direction (input, output).",
            new CounterConfiguration { LabelNames = ["project_id", "direction"] });
        LlmCost = factory.CreateCounter("oubliette_llm_cost_usd_total", "Model cost in US dollars by project.",
            new CounterConfiguration { LabelNames = ["project_id"] });
        ScheduleRuns = factory.CreateCounter("oubliette_schedule_runs_total", "Schedule executions by result.",
            new CounterConfiguration { LabelNames = ["result"] });
        ScheduleLag = factory.CreateHistogram("oubliette_schedule_lag_seconds", "How late a scheduled run started after its due time.",
            new HistogramConfiguration { Buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
        CleanupRemoved = factory.CreateCounter("oubliette_cleanup_removed_total", "Items removed by the cleanup pass, by kind.",
            new CounterConfiguration { LabelNames = ["kind"] });
        BackupRuns = factory.CreateCounter("oubliette_backup_runs_total", "Periodic backup runs by result (success, failure).",
            new CounterConfiguration { LabelNames = ["result"] });
        BackupLastSuccess = factory.CreateGauge("oubliette_backup_last_success_timestamp_seconds", "Unix time of the last successful periodic backup run.");
        BackupLastSize = factory.CreateGauge("oubliette_backup_last_size_bytes", "Total size of the archives the last successful periodic backup run wrote.");
        DotNetStats.Register(registry);
    }

    public CollectorRegistry Registry { get; }
    public Counter Requests { get; }
    public Histogram RequestDuration { get; }
    public Gauge ActiveSessions { get; }
    public Histogram SessionDuration { get; }
    public Counter SessionsSpawned { get; }
    public Counter SessionEvents { get; }
    public Counter LlmTokens { get; }
    public Counter LlmCost { get; }
    public Counter ScheduleRuns { get; }
    public Histogram ScheduleLag { get; }
    public Counter CleanupRemoved { get; }
    public Counter BackupRuns { get; }
    public Gauge BackupLastSuccess { get; }
    public Gauge BackupLastSize { get; }
}
