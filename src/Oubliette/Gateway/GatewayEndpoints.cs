namespace Oubliette.Gateway;

/// <summary>The gateway's routes. They answer only on the unix socket that containers reach, never on the TCP address.</summary>
public static class GatewayEndpoints
{
    /// <summary>Unix-socket connections have no IP address: such a request came through the gateway socket, from a container.</summary>
    public static bool IsGatewayConnection(HttpContext context) => context.Connection.LocalIpAddress is null;

    public static void MapGateway(this WebApplication app) =>
        app.Map("/llm/{provider}/{**path}", async (HttpContext context, string provider, string? path, LlmRelay relay) =>
        {
            // Anything that came in over TCP is not a container.
            if (!IsGatewayConnection(context))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            await relay.RelayAsync(context, provider, path ?? "");
        });
}
