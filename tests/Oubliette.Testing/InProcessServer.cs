using Microsoft.Extensions.DependencyInjection;
using Oubliette.Configuration;
using Oubliette.Hosting;
using Prometheus;

namespace Oubliette.Testing;

/// <summary>The real server, started inside the test process on a loopback port, with its own metrics registry.</summary>
public sealed class InProcessServer : IAsyncDisposable
{
    private InProcessServer(OublietteServer server) => Server = server;

    public OublietteServer Server { get; }
    public Uri Address => Server.Address;
    public Uri McpEndpoint => new(Server.Address, "/mcp");

    public static async Task<InProcessServer> StartAsync(TestHome home, TimeProvider? time = null, IReadOnlyDictionary<string, string>? containerLabels = null,
        Action<IServiceCollection>? configureServices = null)
    {
        var config = ConfigParser.Load(home.Home.ConfigFile);
        var server = await OublietteServer.StartAsync(home.Home, config, new ServerHostOptions
        {
            MetricsRegistry = Metrics.NewCustomRegistry(),
            Time = time ?? TimeProvider.System,
            ContainerLabels = containerLabels ?? new Dictionary<string, string>(),
            ConfigureServices = configureServices,
        }, CancellationToken.None);
        return new InProcessServer(server);
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await Server.StopAsync(timeout.Token);
        await Server.DisposeAsync();
    }
}
