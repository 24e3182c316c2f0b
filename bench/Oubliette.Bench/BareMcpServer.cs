using System.ComponentModel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Server;

namespace Oubliette.Bench;

/// <summary>
/// The yardstick for MCP call throughput: a bare ModelContextProtocol.AspNetCore server with one trivial tool and no
/// authentication, on loopback in the bench's own process.
/// </summary>
internal sealed class BareMcpServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private BareMcpServer(WebApplication app, Uri endpoint)
    {
        _app = app;
        McpEndpoint = endpoint;
    }

    public Uri McpEndpoint { get; }

    public static async Task<BareMcpServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddMcpServer().WithHttpTransport().WithTools<EchoTool>();
        var app = builder.Build();
        app.MapMcp("/mcp");
        await app.StartAsync();
        var address = app.Urls.First();
        return new BareMcpServer(app, new Uri(new Uri(address), "/mcp"));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    [McpServerToolType]
    public sealed class EchoTool
    {
        [McpServerTool(Name = "echo")]
        [Description("Returns its input.")]
        public static string Echo(string action) => action;
    }
}
