namespace Oubliette.Configuration;

/// <summary>
/// <c>defaults.limits</c>. <paramref name="SessionIdleTimeoutMinutes"/> (1..10080, default 30): an idle session with no
/// turn for this long becomes <c>timed_out</c> and stops counting against <paramref name="MaxActiveSessionsPerProject"/>.
/// </summary>
public sealed record LimitsConfig(int MaxRecursionDepth, int MaxAgentsPerSession, double MaxCostUsd, int MaxActiveSessionsPerProject, int SessionIdleTimeoutMinutes = 30);
