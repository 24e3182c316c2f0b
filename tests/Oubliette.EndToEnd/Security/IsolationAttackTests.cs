using Oubliette.Containers;
using Oubliette.Projects;
using Oubliette.Testing;

namespace Oubliette.EndToEnd.Security;

/// <summary>
/// <c>workspace_isolation: true</c> is real: each workspace has a container of its own that mounts that workspace only,
/// so an agent working in one workspace cannot read or write another's files, nor reach its sessions.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class IsolationAttackTests(DockerEnvironment docker) : IAsyncLifetime
{
    private SessionFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await SessionFixture.StartAsync(docker);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task An_agent_in_one_isolated_workspace_cannot_read_or_write_another()
    {
        var created = await _fixture.Admin.CallAsync("project", new { action = "create", name = "isolated-" + Guid.NewGuid().ToString("N")[..6], container_type = "base", workspace_isolation = true });
        Assert.False(created.IsError, created.Text);
        var projectId = created.Json.GetProperty("project").GetProperty("id").GetGuid();
        var w1 = created.Json.GetProperty("project").GetProperty("default_workspace_id").GetGuid();
        var second = await _fixture.Admin.CallAsync("workspace", new { action = "create", project_id = projectId.ToString("D") });
        Assert.False(second.IsError, second.Text);
        var w2 = second.Json.GetProperty("workspace").GetProperty("id").GetGuid();
        var w2Host = Path.Combine(_fixture.Server.ProjectDirectory(projectId), "workspaces", w2.ToString("D"));
        await File.WriteAllTextAsync(Path.Combine(w2Host, "secret.txt"), "w2-secret");

        // A session in W1 starts W1's container and agent.
        _fixture.Model.Conversation("ISOLATION-W1", ScriptStep.Reply("w1 works"));
        var spawned = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = projectId.ToString("D"), workspace_id = w1.ToString("D"), prompt = "ISOLATION-W1 go" });
        Assert.False(spawned.IsError, spawned.Text);
        await _fixture.WaitAsync(spawned.Json.GetProperty("session_id").GetString()!);

        // The agent of W1, prompt-injected, tries to read and write W2 with its shell (as the agent user, in its container).
        // (Through OpenCode's bash tool a path outside the session's workspace is an "ask" today, which nobody answers.)
        var w1Name = $"oubliette-{projectId:D}-{w1:N}";
        // Exec bounds are about "not forever": a loaded machine can take seconds to start a process in a container.
        var listed = await docker.Runtime.ExecAsync(w1Name, new ExecRequest("ls /workspace", "gogol", "/", TimeSpan.FromSeconds(60)), CancellationToken.None);
        Assert.False(listed.TimedOut, "ls /workspace timed out");
        Assert.Equal(w1.ToString("D"), listed.Stdout.Trim());
        var attack = await docker.Runtime.ExecAsync(w1Name, new ExecRequest(
            $"ls /workspace; cat /workspace/{w2:D}/secret.txt; mkdir -p /workspace/{w2:D} && echo planted > /workspace/{w2:D}/planted.txt; "
            + "cat /proc/mounts | grep -c ' /workspace' ; echo done",
            "gogol", "/", TimeSpan.FromSeconds(60)), CancellationToken.None);
        Assert.False(attack.TimedOut, "the attack timed out");
        var output = attack.Stdout + attack.Stderr;
        Assert.Contains("done", output, StringComparison.Ordinal);
        Assert.DoesNotContain("w2-secret", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(w2Host, "planted.txt")), "the agent of W1 wrote into W2 on the host");
        Assert.Equal("w2-secret", await File.ReadAllTextAsync(Path.Combine(w2Host, "secret.txt")));

        // The W1 container mounts W1 only; W2 gets a container of its own when a session runs there.
        var project = new ProjectMetadata
        {
            Id = projectId, Name = "x", CreatedAt = default, UpdatedAt = default, Autonomy = "off", Reasoning = "off", ContainerType = "base",
            InitGit = true, WorkspaceIsolation = true, Limits = new ProjectLimits(null, null, null), DefaultWorkspaceId = w1, Workspaces = [],
        };
        var w1Container = await docker.Runtime.InspectAsync(ProjectContainers.NameOf(new AgentHost(project, w1)), CancellationToken.None);
        Assert.NotNull(w1Container);
        var workspaceMounts = w1Container.Mounts.Where(mount => mount.ContainerPath.StartsWith("/workspace", StringComparison.Ordinal)).ToList();
        Assert.Equal($"/workspace/{w1:D}", Assert.Single(workspaceMounts).ContainerPath);


        _fixture.Model.Conversation("ISOLATION-W2", ScriptStep.Reply("w2 works"));
        var inW2 = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = projectId.ToString("D"), workspace_id = w2.ToString("D"), prompt = "ISOLATION-W2 go" });
        Assert.False(inW2.IsError, inW2.Text);
        await _fixture.WaitAsync(inW2.Json.GetProperty("session_id").GetString()!);
        Assert.NotNull(await docker.Runtime.InspectAsync(ProjectContainers.NameOf(new AgentHost(project, w2)), CancellationToken.None));

        // Deleting the project removes every container it had.
        var deleted = await _fixture.Admin.CallAsync("project", new { action = "delete", project_id = projectId.ToString("D"), force = true });
        Assert.False(deleted.IsError, deleted.Text);
        Assert.Null(await docker.Runtime.InspectAsync(ProjectContainers.NameOf(new AgentHost(project, w1)), CancellationToken.None));
        Assert.Null(await docker.Runtime.InspectAsync(ProjectContainers.NameOf(new AgentHost(project, w2)), CancellationToken.None));
    }

    [Fact]
    public async Task Container_tool_acts_on_the_named_isolated_workspace_and_refuses_unknown_ones()
    {
        var created = await _fixture.Admin.CallAsync("project", new { action = "create", name = "isolated-tool-" + Guid.NewGuid().ToString("N")[..6], container_type = "base", workspace_isolation = true });
        Assert.False(created.IsError, created.Text);
        var projectId = created.Json.GetProperty("project").GetProperty("id").GetString()!;
        var w2 = (await _fixture.Admin.CallAsync("workspace", new { action = "create", project_id = projectId })).Json.GetProperty("workspace").GetProperty("id").GetString()!;

        var exec = await _fixture.Admin.CallAsync("container", new { action = "exec", project_id = projectId, workspace_id = w2, command = "ls /workspace" });
        Assert.False(exec.IsError, exec.Text);
        Assert.Equal(w2, exec.Json.GetProperty("stdout").GetString()!.Trim());

        var unknown = Guid.NewGuid().ToString("D");
        var refused = await _fixture.Admin.CallAsync("container", new { action = "status", project_id = projectId, workspace_id = unknown });
        Assert.True(refused.IsError);
        Assert.Contains($"workspace_id '{unknown}' not found", refused.Text, StringComparison.Ordinal);

        await _fixture.Admin.CallAsync("project", new { action = "delete", project_id = projectId, force = true });
    }
}
