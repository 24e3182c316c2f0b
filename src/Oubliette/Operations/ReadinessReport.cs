namespace Oubliette.Operations;

/// <summary>The outcome of every readiness check: <c>ok</c> or the reason it failed.</summary>
public sealed record ReadinessReport(bool Ready, IReadOnlyDictionary<string, string> Checks);
