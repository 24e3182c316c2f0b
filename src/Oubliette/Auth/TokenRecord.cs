namespace Oubliette.Auth;

/// <summary>A stored token as list shows it: no secret, not even its hash.</summary>
public sealed record TokenRecord(
    string Id,
    string Name,
    TokenScope Scope,
    DateTimeOffset CreatedAt,
    DateTimeOffset? LastUsedAt,
    DateTimeOffset? ExpiresAt)
{
    public bool IsExpired(DateTimeOffset now) => ExpiresAt is { } expires && expires <= now;
}
