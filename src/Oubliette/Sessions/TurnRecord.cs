namespace Oubliette.Sessions;

public sealed record TurnRecord(string Prompt, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt = null, string? OutputExcerpt = null, string? Error = null);
