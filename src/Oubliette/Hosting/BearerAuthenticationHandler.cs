using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Oubliette.Agents;
using Oubliette.Auth;
using Oubliette.Gateway;
using Oubliette.Operations;

namespace Oubliette.Hosting;

/// <summary>
/// Checks <c>Authorization: Bearer oub_...</c> on every request (revocation and expiry included, as the MCP SDK only
/// pins a session to its first user) and answers refusals with 401, a JSON-RPC error and <c>WWW-Authenticate</c>.
/// </summary>
public sealed class BearerAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    TokenService tokens,
    GatewayCredentials containerCredentials,
    AuditLog audit)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private const string FailureKey = "oubliette.auth_failure";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
        {
            Context.Items[FailureKey] = GatewayEndpoints.IsGatewayConnection(Context)
                ? "missing Authorization header (expected this container's credential: Authorization: Bearer ogw_...)"
                : "missing Authorization header (expected: Authorization: Bearer oub_...)";
            return AuthenticateResult.NoResult();
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return Fail("Authorization header is not a Bearer token (expected: Authorization: Bearer oub_...)");
        }

        // The gateway socket (no IP address) is where agents call from: only a container's credential counts there.
        if (GatewayEndpoints.IsGatewayConnection(Context))
        {
            return containerCredentials.Resolve(header["Bearer ".Length..].Trim()) is { } projectId
                ? AuthenticateResult.Success(new AuthenticationTicket(OublietteClaims.ForAgent(projectId), Scheme.Name))
                : Fail("the gateway accepts only the calling container's credential");
        }

        var (token, reason) = await tokens.AuthenticateAsync(header["Bearer ".Length..].Trim(), Context.RequestAborted);
        if (token is null)
        {
            return Fail(reason);
        }

        return AuthenticateResult.Success(new AuthenticationTicket(OublietteClaims.ToPrincipal(token), Scheme.Name));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var reason = Context.Items[FailureKey] as string ?? "authentication required";
        // A refusal on the gateway socket is a container presenting a bad (or a deleted project's) credential.
        audit.Write(new AuditEntry(GatewayEndpoints.IsGatewayConnection(Context) ? "gateway.auth" : "auth", "denied", null, null, $"{Request.Method} {Request.Path}", reason));
        Response.Headers.WWWAuthenticate = $"Bearer realm=\"oubliette\", error=\"invalid_token\", error_description=\"{HeaderSafe(reason)}\"";
        await JsonRpcError.WriteAsync(Context, StatusCodes.Status401Unauthorized, JsonRpcError.Unauthorized, $"unauthorized: {reason}", Context.RequestAborted);
    }

    // Header values must be visible ASCII; the JSON body carries the reason unaltered.
    private static string HeaderSafe(string text) =>
        new([.. text.Select(character => character is >= ' ' and <= '~' && character != '"' ? character : '\'')]);

    private AuthenticateResult Fail(string reason)
    {
        Context.Items[FailureKey] = reason;
        return AuthenticateResult.Fail(reason);
    }
}
