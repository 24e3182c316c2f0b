namespace Oubliette.Auth;

/// <summary>
/// Who is calling: the token's public id, its name and its scope. Never the secret. An agent (a call through the
/// gateway with its container's credential) has a project scope and <see cref="IsAgent"/>.
/// </summary>
public sealed record Caller(string TokenId, string TokenName, TokenScope Scope)
{
    public bool IsAgent { get; init; }
}
