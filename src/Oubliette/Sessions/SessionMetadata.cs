namespace Oubliette.Sessions;

/// <summary>What <c>data/projects/&lt;id&gt;/sessions/&lt;session&gt;.json</c> keeps, written on every state change.</summary>
public sealed record SessionMetadata
{
    public required string SessionId { get; init; }
    public required Guid ProjectId { get; init; }
    public required Guid WorkspaceId { get; init; }
    public string? ParentSessionId { get; init; }
    public required string RootSessionId { get; init; }
    public required int Depth { get; init; }
    public IReadOnlyList<string> Children { get; init; } = [];
    public required string Status { get; init; }
    public bool Ended { get; init; }
    public IReadOnlyList<TurnRecord> Turns { get; init; } = [];
    public long TokensIn { get; init; }
    public long TokensOut { get; init; }
    public double CostUsd { get; init; }
    public string? Error { get; init; }
    public required string AgentSessionId { get; init; }
    public required string Model { get; init; }
    public string Autonomy { get; init; } = "off";
    public string Reasoning { get; init; } = "off";
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Event indices below this are used up; after a restart the buffer starts here, so indices keep increasing.</summary>
    public long ReservedEventIndex { get; init; }

    /// <summary>The index of the last event when this was written (null in files from before it was kept).</summary>
    public long? LastEventIndex { get; init; }
}
