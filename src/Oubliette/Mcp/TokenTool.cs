using System.ComponentModel;
using ModelContextProtocol.Server;
using Oubliette.Auth;

namespace Oubliette.Mcp;

[McpServerToolType]
public sealed class TokenTool(TokenService tokens, Authorizer authorizer, CallerContext callerContext)
{
    [McpServerTool(Name = "token", UseStructuredContent = true)]
    [Description("Manage access tokens (admin only). Actions: create {name, scope, expires?} returns the secret once; list; revoke {token_id}.")]
    public async Task<TokenToolResult> RunAsync(
        [Description("create | list | revoke")] string action,
        [Description("create: a name for the token")] string? name = null,
        [Description("create: admin | admin:ro | project:<uuid> | project:<uuid>:ro")] string? scope = null,
        [Description("create: lifetime such as 30d, 12h, 2w, or an ISO-8601 time; omit for no expiry")] string? expires = null,
        [Description("revoke: the tok_... id from list")] string? token_id = null,
        CancellationToken cancellationToken = default)
    {
        var verb = ToolArguments.Action("token", action, ActionCatalog.ActionsOf("token"));
        var caller = callerContext.Caller;
        authorizer.Demand(caller, $"token.{verb}");
        switch (verb)
        {
            case "create":
                var created = await tokens.CreateAsync(ToolArguments.Required("token", verb, "name", name), ToolArguments.Required("token", verb, "scope", scope), expires, caller.TokenId, cancellationToken);
                return new TokenToolResult(Token: TokenView.From(created.Token), Secret: created.Secret);
            case "list":
                var list = await tokens.ListAsync(cancellationToken);
                return new TokenToolResult(Tokens: [.. list.Select(TokenView.From)]);
            default:
                var revoked = await tokens.RevokeAsync(ToolArguments.Required("token", verb, "token_id", token_id), caller.TokenId, cancellationToken);
                return new TokenToolResult(Revoked: TokenView.From(revoked));
        }
    }
}
