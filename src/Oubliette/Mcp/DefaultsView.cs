namespace Oubliette.Mcp;

public sealed record DefaultsView(
    int MaxRecursionDepth,
    int MaxAgentsPerSession,
    double MaxCostUsd,
    int MaxActiveSessionsPerProject,
    string? Model,
    string Autonomy,
    string Reasoning,
    string ContainerType,
    string Memory,
    double Cpus,
    string Network);
