using Oubliette.Sessions;

namespace Oubliette.Mcp;

/// <summary>A session as tools show it (SPEC §6 metadata).</summary>
public sealed record SessionView(
    string SessionId,
    Guid ProjectId,
    Guid WorkspaceId,
    string? ParentSessionId,
    string RootSessionId,
    int Depth,
    IReadOnlyList<string> Children,
    string Status,
    bool Ended,
    IReadOnlyList<TurnRecord> Turns,
    long TokensIn,
    long TokensOut,
    double CostUsd,
    string? Error,
    string Model,
    string Autonomy,
    string Reasoning,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public static SessionView From(SessionMetadata session) => new(
        session.SessionId, session.ProjectId, session.WorkspaceId, session.ParentSessionId, session.RootSessionId, session.Depth, session.Children,
        session.Status, session.Ended, session.Turns, session.TokensIn, session.TokensOut, session.CostUsd, session.Error, session.Model,
        session.Autonomy, session.Reasoning,
        session.CreatedAt, session.UpdatedAt);
}
