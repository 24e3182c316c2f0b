using Oubliette.Agents;
using Oubliette.Operations;

namespace Oubliette.Gateway;

/// <summary>
/// The gateway socket serves agents only: there, <c>/llm/…</c> and <c>/mcp</c> answer and everything else (<c>/metrics</c>,
/// <c>/health</c>, <c>/ready</c>, unknown paths) is a 404, audited, before authentication or any endpoint runs.
/// <c>/metrics</c> would show every project's ids and spending to any container.
/// </summary>
public sealed class GatewaySocketGuard(RequestDelegate next, GatewayCredentials credentials, AuditLog audit)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (!GatewayEndpoints.IsGatewayConnection(context) || path.StartsWithSegments("/llm") || path.StartsWithSegments("/mcp"))
        {
            await next(context);
            return;
        }

        const string message = "the gateway socket serves agents only: /llm/<provider>/… and /mcp";
        var header = context.Request.Headers.Authorization.ToString();
        var projectId = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? credentials.Resolve(header[7..].Trim()) : null;
        await GatewayRefusal.WriteAsync(context, audit, "gateway.route", projectId, StatusCodes.Status404NotFound, message);
    }
}
