namespace Oubliette.Projects;

/// <summary>Per-project overrides of <c>defaults.limits</c>; null means the default applies.</summary>
public sealed record ProjectLimits(int? MaxRecursionDepth, int? MaxAgentsPerSession, double? MaxCostUsd);
