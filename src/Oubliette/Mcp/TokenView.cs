using Oubliette.Auth;

namespace Oubliette.Mcp;

/// <summary>A token as tools show it: never its secret.</summary>
public sealed record TokenView(string Id, string Name, string Scope, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? ExpiresAt)
{
    public static TokenView From(TokenRecord token) =>
        new(token.Id, token.Name, token.Scope.ToString(), token.CreatedAt, token.LastUsedAt, token.ExpiresAt);
}
