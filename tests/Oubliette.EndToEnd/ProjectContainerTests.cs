using System.Text.Json;
using Oubliette.Projects;
using Oubliette.Testing;

namespace Oubliette.EndToEnd;

[Collection(DockerCollection.Name)]
public sealed class ProjectContainerTests(DockerEnvironment docker) : IAsyncLifetime
{
    private ProjectFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await ProjectFixture.StartAsync(docker);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    private Task<ToolOutcome> ContainerAsync(Guid project, string action, object? extra = null)
    {
        var arguments = JsonSerializer.SerializeToNode(extra ?? new { })!.AsObject();
        arguments["action"] = action;
        arguments["project_id"] = project.ToString("D");
        return _fixture.Admin.CallAsync("container", arguments);
    }

    [Fact]
    public async Task Create_project_runs_a_container_with_the_right_name_labels_user_mounts_limits_and_network()
    {
        var (id, workspace) = await _fixture.CreateProjectAsync("inspected");

        var info = await docker.Runtime.InspectAsync(ProjectContainers.NameOf(id), CancellationToken.None);

        Assert.NotNull(info);
        Assert.True(info.Running);
        Assert.Equal($"oubliette-{id:D}", info.Name);
        Assert.Equal("true", info.Labels["oubliette.managed"]);
        Assert.Equal(id.ToString("D"), info.Labels["oubliette.project"]);
        Assert.Equal("gogol", info.User);
        Assert.Equal("oubliette-agent:base", info.Image);
        var workspaceMount = Assert.Single(info.Mounts, mount => mount.ContainerPath == "/workspace");
        Assert.Equal(Path.Combine(_fixture.ProjectDirectory(id), "workspaces"), workspaceMount.HostPath);
        Assert.False(workspaceMount.ReadOnly);
        Assert.DoesNotContain(info.Mounts, mount => mount.HostPath.Contains("docker.sock", StringComparison.Ordinal));
        Assert.Equal(4L * 1024 * 1024 * 1024, info.MemoryBytes);
        Assert.Equal(2_000_000_000, info.NanoCpus);
        Assert.True(info.PidsLimit > 0);
        Assert.Equal("none", info.Network);
        Assert.Equal(["ALL"], info.CapDrop);
        Assert.Contains("no-new-privileges", info.SecurityOptions);
        Assert.False(info.Privileged);
        Assert.True(File.Exists(Path.Combine(_fixture.ProjectDirectory(id), "metadata.json")));
        Assert.True(Directory.Exists(Path.Combine(_fixture.ProjectDirectory(id), "workspaces", workspace.ToString("D"), ".git")));
        var whoami = await ContainerAsync(id, "exec", new { command = "id -un; id -u; cat /proc/1/status | grep -i ^CapEff" });
        Assert.StartsWith("gogol\n1000\n", whoami.Json.GetProperty("stdout").GetString(), StringComparison.Ordinal);
        Assert.Contains("0000000000000000", whoami.Json.GetProperty("stdout").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exec_returns_stdout_stderr_and_a_non_zero_exit_code_faithfully()
    {
        var (id, workspace) = await _fixture.CreateProjectAsync("exec");

        var outcome = await ContainerAsync(id, "exec", new { command = "echo out; echo err >&2; pwd; exit 3" });

        Assert.False(outcome.IsError, outcome.Text);
        var exec = outcome.Json;
        Assert.Equal($"out\n/workspace/{workspace:D}\n", exec.GetProperty("stdout").GetString());
        Assert.Equal("err\n", exec.GetProperty("stderr").GetString());
        Assert.Equal(3, exec.GetProperty("exit_code").GetInt32());
        var elsewhere = await ContainerAsync(id, "exec", new { command = "pwd", working_dir = "/tmp" });
        Assert.Equal("/tmp\n", elsewhere.Json.GetProperty("stdout").GetString());
    }

    [Fact]
    public async Task Exec_past_its_timeout_is_killed_with_a_clear_error()
    {
        var (id, _) = await _fixture.CreateProjectAsync("timeout");

        var started = System.Diagnostics.Stopwatch.StartNew();
        var outcome = await ContainerAsync(id, "exec", new { command = "echo begun; sleep 300", timeout_seconds = 2 });
        var elapsed = started.Elapsed;
        var leftovers = await ContainerAsync(id, "exec", new { command = "ps -eo args | grep -c '^sleep 300' || true" });

        Assert.True(outcome.IsError);
        Assert.Contains("command exceeded timeout_seconds=2 and was killed", outcome.Text, StringComparison.Ordinal);
        Assert.Contains("begun", outcome.Text, StringComparison.Ordinal);
        Assert.True(elapsed < TimeSpan.FromSeconds(30), $"took {elapsed}");
        Assert.Equal("0\n", leftovers.Json.GetProperty("stdout").GetString());
    }

    [Fact]
    public async Task A_file_written_by_exec_appears_in_the_host_workspace()
    {
        var (id, workspace) = await _fixture.CreateProjectAsync("files");

        await ContainerAsync(id, "exec", new { command = "mkdir -p src && echo 'hello from the agent' > src/note.txt" });

        var file = Path.Combine(_fixture.ProjectDirectory(id), "workspaces", workspace.ToString("D"), "src", "note.txt");
        Assert.Equal("hello from the agent\n", await File.ReadAllTextAsync(file));
    }

    [Fact]
    public async Task Logs_return_the_container_output_with_tail()
    {
        var (id, _) = await _fixture.CreateProjectAsync("logs");
        await ContainerAsync(id, "exec", new { command = "for n in 1 2 3; do echo line-$n > /proc/1/fd/1; done; echo oops > /proc/1/fd/2" });

        var all = await ContainerAsync(id, "logs");
        var last = await ContainerAsync(id, "logs", new { tail = 1 });
        var badTail = await ContainerAsync(id, "logs", new { tail = 0 });

        Assert.Equal("line-1\nline-2\nline-3\n", all.Json.GetProperty("stdout").GetString());
        Assert.Equal("oops\n", all.Json.GetProperty("stderr").GetString());
        Assert.DoesNotContain("line-1", last.Text, StringComparison.Ordinal);
        Assert.True(badTail.IsError);
        Assert.Contains("tail 0 is out of range", badTail.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stop_start_and_restart_change_the_container_state()
    {
        var (id, _) = await _fixture.CreateProjectAsync("lifecycle");

        var stopped = await ContainerAsync(id, "stop");
        var status = await ContainerAsync(id, "status");
        var started = await ContainerAsync(id, "start");
        var before = (await docker.Runtime.InspectAsync(ProjectContainers.NameOf(id), CancellationToken.None))!.StartedAt;
        var restarted = await ContainerAsync(id, "restart");
        var after = (await docker.Runtime.InspectAsync(ProjectContainers.NameOf(id), CancellationToken.None))!.StartedAt;

        Assert.False(stopped.Json.GetProperty("status").GetProperty("running").GetBoolean());
        Assert.Equal("exited", status.Json.GetProperty("status").GetProperty("state").GetString());
        Assert.True(started.Json.GetProperty("status").GetProperty("running").GetBoolean());
        Assert.True(restarted.Json.GetProperty("status").GetProperty("running").GetBoolean());
        Assert.True(after > before);
    }

    [Fact]
    public async Task Delete_removes_the_container_and_the_folder()
    {
        var (id, _) = await _fixture.CreateProjectAsync("doomed");

        var deleted = await _fixture.Admin.CallAsync("project", new { action = "delete", project_id = id.ToString("D") });
        var get = await _fixture.Admin.CallAsync("project", new { action = "get", project_id = id.ToString("D") });

        Assert.True(deleted.Json.GetProperty("deleted").GetBoolean());
        Assert.Null(await docker.Runtime.InspectAsync(ProjectContainers.NameOf(id), CancellationToken.None));
        Assert.False(Directory.Exists(_fixture.ProjectDirectory(id)));
        Assert.True(get.IsError);
        Assert.Contains($"project_id '{id:D}' not found", get.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_restart_reattaches_without_recreating()
    {
        var (id, _) = await _fixture.CreateProjectAsync("survivor");
        var before = await docker.Runtime.InspectAsync(ProjectContainers.NameOf(id), CancellationToken.None);

        await _fixture.RestartServerAsync();
        var get = await _fixture.Admin.CallAsync("project", new { action = "get", project_id = id.ToString("D") });
        var exec = await ContainerAsync(id, "exec", new { command = "echo still-here" });
        var after = await docker.Runtime.InspectAsync(ProjectContainers.NameOf(id), CancellationToken.None);

        Assert.Equal(before!.Id, get.Json.GetProperty("project").GetProperty("container").GetProperty("id").GetString());
        Assert.Equal(before.Id, after!.Id);
        Assert.Equal(before.StartedAt, after.StartedAt);
        Assert.Equal("still-here\n", exec.Json.GetProperty("stdout").GetString());
    }

    [Fact]
    public async Task A_container_removed_behind_our_back_is_recreated_on_the_next_start()
    {
        var (id, workspace) = await _fixture.CreateProjectAsync("phoenix");
        await ContainerAsync(id, "exec", new { command = "echo kept > kept.txt" });
        var original = await docker.Runtime.InspectAsync(ProjectContainers.NameOf(id), CancellationToken.None);
        await docker.Runtime.RemoveAsync(original!.Id, CancellationToken.None);

        var missing = await ContainerAsync(id, "status");
        var started = await ContainerAsync(id, "start");
        var read = await ContainerAsync(id, "exec", new { command = "cat kept.txt" });

        Assert.Equal("missing", missing.Json.GetProperty("status").GetProperty("state").GetString());
        Assert.True(started.Json.GetProperty("status").GetProperty("running").GetBoolean());
        Assert.NotEqual(original.Id, started.Json.GetProperty("status").GetProperty("id").GetString());
        Assert.Equal("kept\n", read.Json.GetProperty("stdout").GetString());
        Assert.True(File.Exists(Path.Combine(_fixture.ProjectDirectory(id), "workspaces", workspace.ToString("D"), "kept.txt")));
    }

    [Fact]
    public async Task Workspaces_are_created_listed_mounted_and_deleted()
    {
        var (id, defaultWorkspace) = await _fixture.CreateProjectAsync("spaces");

        var created = await _fixture.Admin.CallAsync("workspace", new { action = "create", project_id = id.ToString("D"), external_id = "feature-x" });
        var workspace = created.Json.GetProperty("workspace").GetProperty("id").GetGuid();
        var write = await ContainerAsync(id, "exec", new { command = "echo hi > note", working_dir = $"/workspace/{workspace:D}" });
        var listed = await _fixture.Admin.CallAsync("workspace", new { action = "list", project_id = id.ToString("D") });
        var duplicate = await _fixture.Admin.CallAsync("workspace", new { action = "create", project_id = id.ToString("D"), external_id = "feature-x" });
        var deleted = await _fixture.Admin.CallAsync("workspace", new { action = "delete", project_id = id.ToString("D"), workspace_id = workspace.ToString("D") });

        Assert.False(write.IsError, write.Text);
        Assert.Equal(0, write.Json.GetProperty("exit_code").GetInt32());
        Assert.Equal([defaultWorkspace, workspace], listed.Json.GetProperty("workspaces").EnumerateArray().Select(item => item.GetProperty("id").GetGuid()));
        Assert.True(duplicate.IsError);
        Assert.Contains("external_id 'feature-x' already exists", duplicate.Text, StringComparison.Ordinal);
        Assert.True(deleted.Json.GetProperty("deleted").GetBoolean());
        Assert.False(Directory.Exists(Path.Combine(_fixture.ProjectDirectory(id), "workspaces", workspace.ToString("D"))));
    }

    [Fact]
    public async Task Remote_url_clones_the_default_workspace_and_the_credential_lands_nowhere()
    {
        const string token = "ghp_supersecret0123456789";
        await using var fixture = await ProjectFixture.StartAsync(docker, $$"""
            {
              "server": { "address": "127.0.0.1:0" },
              "credentials": { "github": { "credentials": { "work": { "token": "{{token}}" } }, "default": "work" } },
              "git": { "allow_local_sources": true },
            }
            """);
        var origin = Directory.CreateTempSubdirectory("oubliette-origin-").FullName;
        try
        {
            File.SetUnixFileMode(origin, (UnixFileMode)Convert.ToInt32("755", 8)); // git clones as the agent user (uid 1000)
            await RunGitAsync(origin, "init", "--quiet", "--initial-branch=main");
            await File.WriteAllTextAsync(Path.Combine(origin, "README.md"), "cloned content\n");
            await RunGitAsync(origin, "add", "README.md");
            await RunGitAsync(origin, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "first");

            var created = await fixture.Admin.CallAsync("project", new { action = "create", name = "cloned", container_type = "base", remote_url = $"file://{origin}" });
            Assert.False(created.IsError, created.Text);
            var project = created.Json.GetProperty("project");
            var id = project.GetProperty("id").GetGuid();
            var read = await fixture.Admin.CallAsync("container", new { action = "exec", project_id = id.ToString("D"), command = "cat README.md; env" });
            var metadata = await File.ReadAllTextAsync(Path.Combine(fixture.ProjectDirectory(id), "metadata.json"));

            Assert.Equal("work", project.GetProperty("github_credential").GetString());
            Assert.StartsWith("cloned content\n", read.Json.GetProperty("stdout").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain(token, read.Text, StringComparison.Ordinal);
            Assert.DoesNotContain(token, metadata, StringComparison.Ordinal);
            Assert.DoesNotContain(token, created.Text, StringComparison.Ordinal);
            foreach (var log in Directory.GetFiles(fixture.Home.Home.LogsDirectory))
            {
                Assert.DoesNotContain(token, await File.ReadAllTextAsync(log), StringComparison.Ordinal);
            }
        }
        finally
        {
            Directory.Delete(origin, recursive: true);
        }
    }

    private static async Task RunGitAsync(string directory, params string[] arguments)
    {
        var startInfo = new System.Diagnostics.ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var git = System.Diagnostics.Process.Start(startInfo)!;
        await git.WaitForExitAsync();
        Assert.True(git.ExitCode == 0, await git.StandardError.ReadToEndAsync());
    }
}
