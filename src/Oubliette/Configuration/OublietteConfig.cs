namespace Oubliette.Configuration;

/// <summary>The whole of <c>config/oubliette.jsonc</c>, validated, with defaults filled in.</summary>
public sealed record OublietteConfig
{
    public required ServerConfig Server { get; init; }
    public required CredentialsConfig Credentials { get; init; }
    public required DefaultsConfig Defaults { get; init; }
    public required IReadOnlyDictionary<string, string> Containers { get; init; }

    /// <summary>
    /// Container types with a recipe of their own (<c>containers.&lt;type&gt;.recipe</c>): absolute paths of a folder
    /// holding a <c>Dockerfile</c>, or of a Dockerfile. Types without one are <c>base</c>/<c>dev</c> (built from
    /// <c>images/</c>) or images the operator brings.
    /// </summary>
    public IReadOnlyDictionary<string, string> ContainerRecipes { get; init; } = new Dictionary<string, string>();
    public required ModelsConfig Models { get; init; }
    public required LoggingConfig Logging { get; init; }
    public GitConfig Git { get; init; } = GitConfig.Default;
    public SchedulesConfig Schedules { get; init; } = SchedulesConfig.Default;
}
