namespace Oubliette.Schedules;

/// <summary>What a scheduled spawn asks for: the schedule's prompt in one target, with its optional settings.</summary>
public sealed record ScheduledSpawn(Guid ProjectId, Guid? WorkspaceId, string Prompt, string? Model, string? Autonomy, string? Reasoning);
