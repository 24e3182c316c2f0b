namespace Oubliette.Configuration;

/// <summary>The whole of <c>config/oubliette.jsonc</c>, validated, with defaults filled in.</summary>
public sealed record OublietteConfig
{
    public required ServerConfig Server { get; init; }
    public required CredentialsConfig Credentials { get; init; }
    public required DefaultsConfig Defaults { get; init; }
    public required IReadOnlyDictionary<string, string> Containers { get; init; }
    public required ModelsConfig Models { get; init; }
    public required LoggingConfig Logging { get; init; }
    public GitConfig Git { get; init; } = GitConfig.Default;
    public SchedulesConfig Schedules { get; init; } = SchedulesConfig.Default;
}
