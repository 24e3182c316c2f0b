namespace Oubliette.Configuration;

public sealed record DefaultsConfig
{
    public required LimitsConfig Limits { get; init; }
    public required AgentConfig Agent { get; init; }
    public required ContainerConfig Container { get; init; }
    public required BackupConfig Backup { get; init; }
    public required CleanupConfig Cleanup { get; init; }
    public required RateLimitConfig RateLimit { get; init; }
}
