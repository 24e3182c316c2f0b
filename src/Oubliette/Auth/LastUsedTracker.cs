using System.Collections.Concurrent;

namespace Oubliette.Auth;

/// <summary>
/// Remembers when each token was last used, in memory, so authentication never writes to the database;
/// <see cref="FlushAsync"/> persists the batch.
/// </summary>
public sealed class LastUsedTracker(TokenStore store)
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _pending = new(StringComparer.Ordinal);

    public void Record(string tokenId, DateTimeOffset at) =>
        _pending.AddOrUpdate(tokenId, at, (_, previous) => at > previous ? at : previous);

    public DateTimeOffset? Pending(string tokenId) => _pending.TryGetValue(tokenId, out var at) ? at : null;

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var batch = new List<KeyValuePair<string, DateTimeOffset>>();
        foreach (var tokenId in _pending.Keys)
        {
            if (_pending.TryRemove(tokenId, out var at))
            {
                batch.Add(new(tokenId, at));
            }
        }

        try
        {
            await store.UpdateLastUsedAsync(batch, cancellationToken);
        }
        catch
        {
            // Put the batch back so a later flush retries it; the exception still reaches the caller.
            foreach (var (tokenId, at) in batch)
            {
                Record(tokenId, at);
            }

            throw;
        }
    }
}
