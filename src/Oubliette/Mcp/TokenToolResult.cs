namespace Oubliette.Mcp;

/// <summary>Result of the <c>token</c> tool: <c>token</c> (+ <c>secret</c> once, on create), <c>tokens</c> on list, <c>revoked</c> on revoke.</summary>
public sealed record TokenToolResult(TokenView? Token = null, string? Secret = null, IReadOnlyList<TokenView>? Tokens = null, TokenView? Revoked = null);
