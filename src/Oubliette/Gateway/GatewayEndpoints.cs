namespace Oubliette.Gateway;

/// <summary>The gateway's routes. They answer only on the unix socket that containers reach, never on the TCP address.</summary>
public static class GatewayEndpoints
{
    public static void MapGateway(this WebApplication app) =>
        app.Map("/llm/{provider}/{**path}", async (HttpContext context, string provider, string? path, LlmRelay relay) =>
        {
            // Unix-socket connections have no IP address; anything that came in over TCP is not a container.
            if (context.Connection.LocalIpAddress is not null)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            await relay.RelayAsync(context, provider, path ?? "");
        });
}
