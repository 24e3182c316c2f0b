namespace Oubliette.Auth;

/// <summary>The result of creating a token: its record and the secret, shown once and never again.</summary>
public sealed record CreatedToken(TokenRecord Token, string Secret);
