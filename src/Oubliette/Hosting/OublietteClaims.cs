using System.Security.Claims;
using Oubliette.Auth;

namespace Oubliette.Hosting;

/// <summary>How an authenticated token travels in a <see cref="ClaimsPrincipal"/>.</summary>
public static class OublietteClaims
{
    public const string Scheme = "Bearer";
    public const string ScopeClaim = "oubliette:scope";
    public const string AgentClaim = "oubliette:agent";

    /// <summary>An agent calling through the gateway: scoped to its own project, never more.</summary>
    public static ClaimsPrincipal ForAgent(Guid projectId) => new(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, $"agent:{projectId:D}"),
            new Claim(ClaimTypes.Name, $"agent of project {projectId:D}"),
            new Claim(ScopeClaim, new TokenScope(ScopeKind.Project, projectId).ToString()),
            new Claim(AgentClaim, "true"),
        ],
        Scheme));

    public static ClaimsPrincipal ToPrincipal(TokenRecord token) => new(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, token.Id),
            new Claim(ClaimTypes.Name, token.Name),
            new Claim(ScopeClaim, token.Scope.ToString()),
        ],
        Scheme));

    public static Caller? ToCaller(ClaimsPrincipal? principal)
    {
        var id = principal?.FindFirstValue(ClaimTypes.NameIdentifier);
        var scope = principal?.FindFirstValue(ScopeClaim);
        return id is not null && TokenScope.TryParse(scope, out var parsed)
            ? new Caller(id, principal?.FindFirstValue(ClaimTypes.Name) ?? id, parsed) { IsAgent = principal?.HasClaim(AgentClaim, "true") == true }
            : null;
    }
}
