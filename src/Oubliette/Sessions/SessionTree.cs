namespace Oubliette.Sessions;

/// <summary>A session's place in its tree (for limits and <c>config_limits</c>).</summary>
public sealed record SessionTree(string SessionId, string RootSessionId, int Depth, int Descendants, double CostUsd);
