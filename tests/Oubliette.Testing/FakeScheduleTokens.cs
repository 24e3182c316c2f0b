using System.Collections.Concurrent;
using Oubliette.Auth;
using Oubliette.Schedules;

namespace Oubliette.Testing;

/// <summary><see cref="IScheduleTokens"/> over a dictionary: tests add, expire and revoke tokens.</summary>
public sealed class FakeScheduleTokens : IScheduleTokens
{
    public ConcurrentDictionary<string, TokenRecord> Tokens { get; } = new(StringComparer.Ordinal);

    public TokenRecord Add(string id, TokenScope scope, DateTimeOffset? expiresAt = null)
    {
        var token = new TokenRecord(id, id, scope, DateTimeOffset.UnixEpoch, null, expiresAt);
        Tokens[id] = token;
        return token;
    }

    public void Revoke(string id) => Tokens.TryRemove(id, out _);

    public Task<TokenRecord?> FindAsync(string tokenId, CancellationToken cancellationToken) => Task.FromResult(Tokens.GetValueOrDefault(tokenId));
}
