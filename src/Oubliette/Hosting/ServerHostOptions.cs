using Prometheus;

namespace Oubliette.Hosting;

/// <summary>How the server is hosted: what differs between the CLI, a daemon and an in-process test.</summary>
public sealed record ServerHostOptions
{
    /// <summary>Also log to the console (the foreground server does; a daemon writes only to data/logs/).</summary>
    public bool ConsoleLogging { get; init; }

    /// <summary>A registry of its own for each in-process server; null means a fresh one.</summary>
    public CollectorRegistry? MetricsRegistry { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Labels put on every container this server creates (tests tag theirs for cleanup).</summary>
    public IReadOnlyDictionary<string, string> ContainerLabels { get; init; } = new Dictionary<string, string>();

    /// <summary>The engine to use; null means Docker at DOCKER_HOST or /var/run/docker.sock.</summary>
    public string? DockerHost { get; init; } = Environment.GetEnvironmentVariable("DOCKER_HOST");

    /// <summary>Runs after the server's own registrations (tests put fakes of the engine and the agent here).</summary>
    public Action<IServiceCollection>? ConfigureServices { get; init; }
}
