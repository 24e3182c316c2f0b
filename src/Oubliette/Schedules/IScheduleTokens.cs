using Oubliette.Auth;

namespace Oubliette.Schedules;

/// <summary>Looks up a schedule's creator token (by public id) at every run, so a revocation counts from the next run on.</summary>
public interface IScheduleTokens
{
    /// <summary>The stored token, or null when it was revoked (deleted).</summary>
    Task<TokenRecord?> FindAsync(string tokenId, CancellationToken cancellationToken);
}
