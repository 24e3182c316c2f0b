using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Oubliette.Testing;

/// <summary>Official MCP C# client helpers: connect with a bearer token, call a tool and read its JSON.</summary>
public static class McpTestClient
{
    /// <summary>The initialize-handshake protocol (stateful session, pushes) unless told otherwise.</summary>
    public const string SessionProtocol = "2025-11-25";

    /// <summary>The stateless revision (<c>server/discover</c>, per-request <c>_meta</c>).</summary>
    public const string StatelessProtocol = "2026-07-28";

    public static Task<McpClient> ConnectAsync(Uri endpoint, string secret, CancellationToken cancellationToken = default) =>
        ConnectAsync(endpoint, secret, SessionProtocol, cancellationToken);

    public static Task<McpClient> ConnectAsync(Uri endpoint, string secret, string protocolVersion, CancellationToken cancellationToken = default) =>
        McpClient.CreateAsync(
            new HttpClientTransport(new HttpClientTransportOptions
            {
                Endpoint = endpoint,
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {secret}" },
            }),
            new McpClientOptions { ClientInfo = new Implementation { Name = "oubliette-tests", Version = "1.0" }, ProtocolVersion = protocolVersion },
            cancellationToken: cancellationToken);

    /// <summary>A client on a unix socket (the gateway, as an agent in a container reaches it).</summary>
    public static Task<McpClient> ConnectUnixAsync(string socketPath, string secret, CancellationToken cancellationToken = default) =>
        McpClient.CreateAsync(
            new HttpClientTransport(
                new HttpClientTransportOptions
                {
                    Endpoint = new Uri("http://gateway/mcp"),
                    TransportMode = HttpTransportMode.StreamableHttp,
                    AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {secret}" },
                },
                Oubliette.Agents.OpenCode.UnixSocketHttp.Create(socketPath),
                ownsHttpClient: true),
            new McpClientOptions { ClientInfo = new Implementation { Name = "oubliette-tests-agent", Version = "1.0" }, ProtocolVersion = SessionProtocol },
            cancellationToken: cancellationToken);

    public static async Task<ToolOutcome> CallAsync(this McpClient client, string tool, object arguments, CancellationToken cancellationToken = default)
    {
        var dictionary = JsonSerializer.SerializeToElement(arguments).EnumerateObject()
            .ToDictionary(property => property.Name, property => (object?)property.Value);
        var result = await client.CallToolAsync(tool, dictionary, cancellationToken: cancellationToken);
        var text = string.Concat(result.Content.OfType<TextContentBlock>().Select(block => block.Text));
        JsonElement? structured = result.StructuredContent is { } content ? JsonSerializer.SerializeToElement(content) : null;
        return new ToolOutcome(result.IsError == true, text, structured);
    }
}
