using System.Net;
using System.Net.Sockets;
using Oubliette.Agents.OpenCode;
using Oubliette.Containers;
using Oubliette.Containers.Docker;
using Oubliette.Projects;

namespace Oubliette.Bench;

/// <summary>
/// A second <c>opencode serve</c> in a project container, started beside the one Oubliette runs there, with the same
/// config (models through the gateway) and its own home, reached from the host through a root-run socat relay and a unix
/// socket in the bind-mounted agent socket folder exactly as Oubliette reaches its own. Oubliette does not read this one's events, so a
/// client of its stream is the only subscriber: OpenCode's own rate where it runs in production, through the one path
/// any host client has to an agent in a container without a network.
/// </summary>
internal sealed class ContainerOpenCode : IOpenCodeServer, IAsyncDisposable
{
    private const int Port = 4098;
    private const string Home = "/tmp/opencode-baseline";
    private const string SocketName = "baseline.sock";
    private static readonly string Relay = OpenCodeRuntime.AgentRelay($"{ProjectContainers.AgentSocketMountPoint}/{SocketName}", Port);
    private readonly DockerContainerRuntime _docker;
    private readonly string _container;

    private ContainerOpenCode(DockerContainerRuntime docker, string container, string socketPath)
    {
        _docker = docker;
        _container = container;
        Http = UnixSocketHttp.Create(socketPath);
        EndPoint = new UnixDomainSocketEndPoint(socketPath);
    }

    public HttpClient Http { get; }

    public EndPoint EndPoint { get; }

    /// <summary>Starts it in the running container of the project whose agent socket folder is <paramref name="socketDirectory"/>.</summary>
    public static async Task<ContainerOpenCode> StartAsync(Guid projectId, string socketDirectory)
    {
        var container = ProjectContainers.NameOf(projectId);
        // The same relay as Oubliette's own, run as root like it (the server dials only root's sockets); OpenCode's pid is
        // kept so disposing can stop it.
        var script = $"""
            mkdir -p {Home}/project && cd {Home}/project
            echo "$$" > {Home}/pid
            exec opencode serve --hostname 127.0.0.1 --port {Port} >{Home}/opencode.log 2>&1
            """;
        var docker = new DockerContainerRuntime(Environment.GetEnvironmentVariable("DOCKER_HOST"));
        await docker.ExecDetachedAsync(container, ["sh", "-c", $"rm -f {ProjectContainers.AgentSocketMountPoint}/{SocketName}; exec {Relay}"], OpenCodeRuntime.RelayUser, [],
            CancellationToken.None);
        await docker.ExecDetachedAsync(container, ["sh", "-c", script], ProjectContainers.AgentUser,
            [$"OPENCODE_CONFIG={ProjectContainers.AgentConfigMountPoint}/opencode.json", $"HOME={Home}", .. OpenCodeRuntime.OfflineEnvironment], CancellationToken.None);
        var started = new ContainerOpenCode(docker, container, Path.Combine(socketDirectory, SocketName));
        await OpenCodeApi.WaitHealthyAsync(started.Http, TimeSpan.FromSeconds(60), () => $"see {Home}/opencode.log in container {container}");
        return started;
    }

    public Task<string> PromptNewSessionAsync(string text) => OpenCodeApi.PromptNewSessionAsync(Http, $"{Home}/project", text);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        var stopped = await _docker.ExecAsync(_container, new ExecRequest($"kill $(cat {Home}/pid)", ProjectContainers.AgentUser, "/", TimeSpan.FromSeconds(10)), CancellationToken.None);
        var relayStopped = await _docker.ExecAsync(_container, new ExecRequest($"pkill -U 0 -x -f '{Relay}'", OpenCodeRuntime.RelayUser, "/", TimeSpan.FromSeconds(10)), CancellationToken.None);
        _docker.Dispose();
        if (stopped.ExitCode != 0 || relayStopped.ExitCode != 0)
        {
            throw new InvalidOperationException($"the bench's second OpenCode in {_container} did not stop: {stopped.Stderr} {relayStopped.Stderr}");
        }
    }
}
