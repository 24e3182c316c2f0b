using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Oubliette.Agents.OpenCode;
using Oubliette.Projects;

namespace Oubliette.Bench;

/// <summary>
/// A second <c>opencode serve</c> in a project container, started beside the one Oubliette runs there, with the same
/// config (models through the gateway) and its own home, reached from the host through a socat relay and a unix socket
/// in the bind-mounted run folder exactly as Oubliette reaches its own. Oubliette does not read this one's events, so a
/// client of its stream is the only subscriber: OpenCode's own rate where it runs in production, through the one path
/// any host client has to an agent in a container without a network.
/// </summary>
internal sealed class ContainerOpenCode : IOpenCodeServer, IAsyncDisposable
{
    private const int Port = 4098;
    private const string Home = "/tmp/opencode-baseline";
    private const string SocketName = "baseline.sock";
    private readonly string _container;

    private ContainerOpenCode(string container, string socketPath)
    {
        _container = container;
        Http = UnixSocketHttp.Create(socketPath);
        EndPoint = new UnixDomainSocketEndPoint(socketPath);
    }

    public HttpClient Http { get; }

    public EndPoint EndPoint { get; }

    /// <summary>Starts it in the running container of the project whose run folder is <paramref name="runDirectory"/>.</summary>
    public static async Task<ContainerOpenCode> StartAsync(Guid projectId, string runDirectory)
    {
        var container = ProjectContainers.NameOf(projectId);
        // The same relay options as Oubliette's own start script; the pids are kept so disposing can stop both.
        var script = $"""
            mkdir -p {Home}/project && cd {Home}/project
            rm -f /run/agent/{SocketName}
            socat -b 65536 UNIX-LISTEN:/run/agent/{SocketName},mode=600,fork TCP:127.0.0.1:{Port} &
            echo "$! $$" > {Home}/pids
            exec opencode serve --hostname 127.0.0.1 --port {Port} >{Home}/opencode.log 2>&1
            """;
        await DockerAsync(
            "exec", "-d", "-u", ProjectContainers.AgentUser,
            "-e", "OPENCODE_CONFIG=/run/agent/opencode.json", "-e", $"HOME={Home}",
            "-e", "OPENCODE_DISABLE_MODELS_FETCH=true", "-e", "OPENCODE_DISABLE_AUTOUPDATE=true",
            "-e", "OPENCODE_DISABLE_LSP_DOWNLOAD=true", "-e", "OPENCODE_DISABLE_SHARE=true",
            container, "sh", "-c", script);
        var started = new ContainerOpenCode(container, Path.Combine(runDirectory, SocketName));
        await OpenCodeApi.WaitHealthyAsync(started.Http, TimeSpan.FromSeconds(60), () => $"see {Home}/opencode.log in container {container}");
        return started;
    }

    public Task<string> PromptNewSessionAsync(string text) => OpenCodeApi.PromptNewSessionAsync(Http, $"{Home}/project", text);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await DockerAsync("exec", _container, "sh", "-c", $"kill $(cat {Home}/pids)");
    }

    private static async Task DockerAsync(params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo("docker", arguments) { RedirectStandardOutput = true, RedirectStandardError = true })
            ?? throw new InvalidOperationException("docker did not start");
        var errors = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"docker {arguments[0]} failed: {await errors}");
        }
    }
}
