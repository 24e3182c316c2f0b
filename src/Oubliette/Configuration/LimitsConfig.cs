namespace Oubliette.Configuration;

public sealed record LimitsConfig(int MaxRecursionDepth, int MaxAgentsPerSession, double MaxCostUsd, int MaxActiveSessionsPerProject);
