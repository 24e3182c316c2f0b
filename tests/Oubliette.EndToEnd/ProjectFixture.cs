using ModelContextProtocol.Client;
using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>A test home, the in-process server with this run's container label, and an admin MCP client.</summary>
public sealed class ProjectFixture : IAsyncDisposable
{
    private ProjectFixture(DockerEnvironment docker, TestHome home, InProcessServer server, McpClient admin)
    {
        Docker = docker;
        Home = home;
        Server = server;
        Admin = admin;
    }

    public DockerEnvironment Docker { get; }
    public TestHome Home { get; }
    public InProcessServer Server { get; private set; }
    public McpClient Admin { get; private set; }

    public static async Task<ProjectFixture> StartAsync(DockerEnvironment docker, string? config = null)
    {
        var home = await TestHome.CreateAsync(config);
        var server = await InProcessServer.StartAsync(home, containerLabels: docker.Labels);
        var admin = await McpTestClient.ConnectAsync(server.McpEndpoint, home.AdminSecret);
        return new ProjectFixture(docker, home, server, admin);
    }

    public async Task<McpClient> ConnectAsync(string secret) => await McpTestClient.ConnectAsync(Server.McpEndpoint, secret);

    /// <summary>Stops the server and starts a new one on the same home (a restart).</summary>
    public async Task RestartServerAsync()
    {
        await Admin.DisposeAsync();
        await Server.DisposeAsync();
        Server = await InProcessServer.StartAsync(Home, containerLabels: Docker.Labels);
        Admin = await McpTestClient.ConnectAsync(Server.McpEndpoint, Home.AdminSecret);
    }

    public async Task<(Guid Id, Guid DefaultWorkspace)> CreateProjectAsync(string name, string containerType = "base")
    {
        var outcome = await Admin.CallAsync("project", new { action = "create", name, container_type = containerType });
        Assert.False(outcome.IsError, outcome.Text);
        var project = outcome.Json.GetProperty("project");
        return (project.GetProperty("id").GetGuid(), project.GetProperty("default_workspace_id").GetGuid());
    }

    public string ProjectDirectory(Guid id) => Path.Combine(Home.Home.ProjectsDirectory, id.ToString("D"));

    public async Task<int> ProjectCountAsync() =>
        (await Admin.CallAsync("project", new { action = "list" })).Json.GetProperty("projects").GetArrayLength();

    public async Task<int> ContainerCountAsync() =>
        (await Docker.Runtime.ListByLabelAsync(DockerEnvironment.TestLabel, Docker.RunId, CancellationToken.None)).Count;

    public async ValueTask DisposeAsync()
    {
        await Admin.DisposeAsync();
        await Server.DisposeAsync();
        await Home.DisposeAsync();
    }
}
