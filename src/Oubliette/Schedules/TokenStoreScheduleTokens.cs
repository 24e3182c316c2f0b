using Oubliette.Auth;

namespace Oubliette.Schedules;

/// <summary><see cref="IScheduleTokens"/> over <c>data/auth.db</c>.</summary>
public sealed class TokenStoreScheduleTokens(TokenStore tokens) : IScheduleTokens
{
    public async Task<TokenRecord?> FindAsync(string tokenId, CancellationToken cancellationToken)
    {
        // Tokens are few (an operator's handful): one read of the table per run costs nothing, and needs no new query.
        var all = await tokens.ListAsync(cancellationToken);
        return all.FirstOrDefault(token => string.Equals(token.Id, tokenId, StringComparison.Ordinal));
    }
}
