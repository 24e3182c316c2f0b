using System.ComponentModel;
using ModelContextProtocol.Server;
using Oubliette.Auth;
using Oubliette.Configuration;

namespace Oubliette.Mcp;

[McpServerToolType]
public sealed class ProjectTool(OublietteConfig config, Authorizer authorizer, CallerContext callerContext)
{
    private static readonly IReadOnlyList<string> Available = ["options"];

    [McpServerTool(Name = "project", UseStructuredContent = true)]
    [Description("Projects. Action options: the models, credential names, container types, defaults and scope formats a project can use.")]
    public ProjectToolResult Run([Description("options")] string action)
    {
        var verb = ToolArguments.Action("project", action, Available);
        authorizer.Demand(callerContext.Caller, $"project.{verb}");
        return new ProjectToolResult(Options: BuildOptions());
    }

    private ProjectOptions BuildOptions()
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
