namespace Oubliette.Operations;

/// <summary>One audit line: what was attempted, its result, by which token (public id only) on which target.</summary>
public sealed record AuditEntry(string Action, string Result, string? TokenId, string? Scope, string? Target, string? Detail = null);
