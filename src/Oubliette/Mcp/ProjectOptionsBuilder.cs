using Oubliette.Auth;
using Oubliette.Configuration;

namespace Oubliette.Mcp;

/// <summary>Shapes <c>project options</c> from the config: names and defaults, never credential values.</summary>
internal static class ProjectOptionsBuilder
{
    public static ProjectOptions Build(OublietteConfig config)
    {
        var defaults = config.Defaults;
        return new ProjectOptions(
            [.. config.Models.Models.Select(pair => new ModelOption(pair.Key, pair.Value.Model, pair.Value.Provider, pair.Value.DisplayName))],
            defaults.Agent.Model ?? config.Models.SessionModel,
            new CredentialNames(
                [.. config.Credentials.Github.Keys],
                config.Credentials.GithubDefault,
                [.. config.Credentials.Providers.Select(pair => new ProviderName(pair.Key, pair.Value.Kind))],
                config.Credentials.ProvidersDefault),
            config.Containers,
            new DefaultsView(
                defaults.Limits.MaxRecursionDepth,
                defaults.Limits.MaxAgentsPerSession,
                defaults.Limits.MaxCostUsd,
                defaults.Limits.MaxActiveSessionsPerProject,
                defaults.Agent.Model,
                defaults.Agent.Autonomy,
                defaults.Agent.Reasoning,
                defaults.Container.Type,
                defaults.Container.Memory,
                defaults.Container.Cpus,
                defaults.Container.Network),
            TokenScope.Formats,
            ConfigParser.Levels,
            ConfigParser.Levels);
    }
}
