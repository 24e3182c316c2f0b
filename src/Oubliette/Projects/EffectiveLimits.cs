namespace Oubliette.Projects;

/// <summary>The limits that apply to a project, and for each whether it comes from the project or the defaults.</summary>
public sealed record EffectiveLimits(
    int MaxRecursionDepth,
    int MaxAgentsPerSession,
    double MaxCostUsd,
    int MaxActiveSessionsPerProject,
    IReadOnlyDictionary<string, string> Sources);
