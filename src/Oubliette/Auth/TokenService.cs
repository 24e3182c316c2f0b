using System.Text.RegularExpressions;
using Oubliette.Errors;
using Oubliette.Operations;

namespace Oubliette.Auth;

/// <summary>Creates, lists, revokes and checks tokens; audits every change.</summary>
public sealed partial class TokenService(TokenStore store, LastUsedTracker lastUsed, AuditLog audit, TimeProvider time)
{
    public async Task<CreatedToken> CreateAsync(string? name, string? scope, string? expires, string? actorTokenId, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(name) || !TokenName().IsMatch(name))
        {
            throw new InvalidArgumentException(
                $"name '{name}' is not valid (1–64 characters: letters, digits, space, '.', '_', '-'; it must start with a letter or digit)");
        }

        var parsedScope = TokenScope.Parse(scope);
        var now = time.GetUtcNow();
        var expiresAt = ExpiryParser.Parse(expires, now);
        var secret = TokenSecrets.NewSecret();
        var token = new TokenRecord(TokenSecrets.NewId(), name.Trim(), parsedScope, now, null, expiresAt);
        await store.InsertAsync(token, TokenSecrets.Hash(secret), cancellationToken);
        audit.Write(new AuditEntry("token.create", "ok", actorTokenId, null, token.Id, $"name={token.Name} scope={parsedScope}"));
        return new CreatedToken(token, secret);
    }

    public async Task<IReadOnlyList<TokenRecord>> ListAsync(CancellationToken cancellationToken)
    {
        var tokens = await store.ListAsync(cancellationToken);
        return [.. tokens.Select(token => lastUsed.Pending(token.Id) is { } pending && (token.LastUsedAt is null || pending > token.LastUsedAt)
            ? token with { LastUsedAt = pending }
            : token)];
    }

    /// <summary>Revokes by public id, or by the secret itself.</summary>
    public async Task<TokenRecord> RevokeAsync(string? idOrSecret, string? actorTokenId, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(idOrSecret))
        {
            throw new InvalidArgumentException("token_id is required (the tok_... id shown by 'token list', or the oub_... secret)");
        }

        var hash = TokenSecrets.LooksLikeSecret(idOrSecret) ? TokenSecrets.Hash(idOrSecret) : null;
        var removed = await store.DeleteAsync(idOrSecret, hash, cancellationToken);
        if (removed is null)
        {
            var shown = hash is null ? idOrSecret : "(the given secret)";
            audit.Write(new AuditEntry("token.revoke", "not_found", actorTokenId, null, shown));
            throw new NotFoundException($"token_id '{shown}' not found (see 'token list' for ids)");
        }

        audit.Write(new AuditEntry("token.revoke", "ok", actorTokenId, null, removed.Id, $"name={removed.Name} scope={removed.Scope}"));
        return removed;
    }

    /// <summary>The live token for a presented secret, or null with the reason it was refused.</summary>
    public async Task<(TokenRecord? Token, string Reason)> AuthenticateAsync(string? secret, CancellationToken cancellationToken)
    {
        if (!TokenSecrets.LooksLikeSecret(secret))
        {
            return (null, "malformed token (expected Bearer oub_ followed by 64 hex characters)");
        }

        var token = await store.FindByHashAsync(TokenSecrets.Hash(secret), cancellationToken);
        if (token is null)
        {
            return (null, "unknown or revoked token");
        }

        var now = time.GetUtcNow();
        if (token.IsExpired(now))
        {
            return (null, $"token {token.Id} expired at {token.ExpiresAt:O}");
        }

        lastUsed.Record(token.Id, now);
        return (token, "");
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")]
    private static partial Regex TokenName();
}
