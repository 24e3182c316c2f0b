using Oubliette.Auth;

namespace Oubliette.Cleanup;

/// <summary>
/// Tokens that expired at or before the cut-off. Until then <c>token list</c> still shows an expired token (with its
/// expiry), so an operator can see why a client stopped working; it authenticates nothing either way.
/// </summary>
public sealed class ExpiredTokensCleanup(TokenStore tokens) : ICleanupTask
{
    public string Kind => "tokens";

    public Task<int> RunAsync(DateTimeOffset now, DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        tokens.DeleteExpiredAsync(cutoff, cancellationToken);
}
