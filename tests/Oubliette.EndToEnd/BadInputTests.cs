using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>Each bad input gets a clear error naming the problem, and nothing changes.</summary>
[Collection(DockerCollection.Name)]
public sealed class BadInputTests(DockerEnvironment docker) : IAsyncLifetime
{
    private ProjectFixture _fixture = null!;
    private Guid _project;
    private Guid _defaultWorkspace;

    public async Task InitializeAsync()
    {
        _fixture = await ProjectFixture.StartAsync(docker);
        (_project, _defaultWorkspace) = await _fixture.CreateProjectAsync("existing");
    }

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    private async Task AssertRefusedAsync(string tool, object arguments, string expected)
    {
        var projectsBefore = await _fixture.ProjectCountAsync();
        var containersBefore = await _fixture.ContainerCountAsync();
        var workspacesBefore = Directory.GetDirectories(Path.Combine(_fixture.ProjectDirectory(_project), "workspaces")).Length;

        var outcome = await _fixture.Admin.CallAsync(tool, arguments);

        Assert.True(outcome.IsError, $"expected an error, got: {outcome.Text}");
        Assert.Contains(expected, outcome.Text, StringComparison.Ordinal);
        Assert.Equal(projectsBefore, await _fixture.ProjectCountAsync());
        Assert.Equal(containersBefore, await _fixture.ContainerCountAsync());
        Assert.Equal(workspacesBefore, Directory.GetDirectories(Path.Combine(_fixture.ProjectDirectory(_project), "workspaces")).Length);
    }

    [Theory]
    [InlineData("not-a-uuid")]
    [InlineData("../../etc")]
    [InlineData("3f2c8a4e0b1d4c5e9a7f2d6b8e1c0a93")]
    public Task Malformed_project_id_is_refused(string id) =>
        AssertRefusedAsync("project", new { action = "get", project_id = id }, $"project_id '{id}' is not valid (expected a UUID");

    [Fact]
    public Task Unknown_project_id_is_refused() =>
        AssertRefusedAsync("container", new { action = "exec", project_id = "3f2c8a4e-0b1d-4c5e-9a7f-2d6b8e1c0a93", command = "true" },
            "project_id '3f2c8a4e-0b1d-4c5e-9a7f-2d6b8e1c0a93' not found");

    [Theory]
    [InlineData("..")]
    [InlineData("../other")]
    [InlineData("a/b")]
    public Task Workspace_id_with_traversal_is_refused(string workspaceId) =>
        AssertRefusedAsync("workspace", new { action = "delete", project_id = _project.ToString("D"), workspace_id = workspaceId },
            $"workspace_id '{workspaceId}' is not valid (expected a UUID");

    [Fact]
    public Task Unknown_container_type_is_refused() =>
        AssertRefusedAsync("project", new { action = "create", name = "gpu-box", container_type = "gpu" },
            "container_type 'gpu' is not valid (allowed: base, dev)");

    [Fact]
    public Task Duplicate_project_name_is_refused() =>
        AssertRefusedAsync("project", new { action = "create", name = "Existing", container_type = "base" },
            $"a project named 'existing' already exists (id {_project:D})");

    [Fact]
    public Task Deleting_the_default_workspace_is_refused() =>
        AssertRefusedAsync("workspace", new { action = "delete", project_id = _project.ToString("D"), workspace_id = _defaultWorkspace.ToString("D") },
            "is the project's default workspace and cannot be deleted");

    [Fact]
    public Task Exec_without_command_is_refused() =>
        AssertRefusedAsync("container", new { action = "exec", project_id = _project.ToString("D") }, "container exec: 'command' is required");

    [Fact]
    public Task Exec_in_a_missing_working_dir_is_refused() =>
        AssertRefusedAsync("container", new { action = "exec", project_id = _project.ToString("D"), command = "touch here", working_dir = "/workspace/nope" },
            "working_dir '/workspace/nope' does not exist in the container; the command was not run");

    [Fact]
    public Task Exec_in_a_file_as_working_dir_is_refused() =>
        AssertRefusedAsync("container", new { action = "exec", project_id = _project.ToString("D"), command = "true", working_dir = "/etc/passwd" },
            "working_dir '/etc/passwd' is not a directory in the container; the command was not run");

    [Theory]
    [InlineData("""{"action":"create","name":"x y/z"}""", "name 'x y/z' is not valid")]
    [InlineData("""{"action":"create","name":"m","model":"ghost"}""", "model 'ghost' is not configured")]
    [InlineData("""{"action":"create","name":"a","autonomy":"max"}""", "autonomy 'max' is not valid (allowed: off, low, medium, high)")]
    [InlineData("""{"action":"create","name":"d","max_recursion_depth":99}""", "max_recursion_depth 99 is out of range (0..32)")]
    [InlineData("""{"action":"create","name":"r","remote_url":"ftp://example.com/x.git"}""", "remote_url 'ftp://example.com/x.git' is not a git URL")]
    [InlineData("""{"action":"create","name":"c","remote_url":"https://user:pw@example.com/x.git"}""", "remote_url must not carry credentials")]
    [InlineData("""{"action":"create","name":"g","github_credential":"ghost"}""", "github_credential 'ghost' is not configured")]
    [InlineData("""{"action":"launch"}""", "project: action 'launch' is not valid")]
    public Task Bad_project_create_arguments_are_refused(string arguments, string expected) =>
        AssertRefusedAsync("project", System.Text.Json.JsonDocument.Parse(arguments).RootElement, expected);

    [Fact]
    public Task Exec_timeout_out_of_range_is_refused() =>
        AssertRefusedAsync("container", new { action = "exec", project_id = _project.ToString("D"), command = "true", timeout_seconds = 0 },
            "timeout_seconds 0 is out of range (1..3600)");

    [Fact]
    public async Task Other_project_scope_is_denied_everything_on_this_project()
    {
        var secret = await _fixture.Home.CreateTokenAsync($"project:{Guid.NewGuid()}");
        await using var client = await _fixture.ConnectAsync(secret);

        var get = await client.CallAsync("project", new { action = "get", project_id = _project.ToString("D") });
        var exec = await client.CallAsync("container", new { action = "exec", project_id = _project.ToString("D"), command = "touch /workspace/x" });
        var list = await client.CallAsync("project", new { action = "list" });
        var create = await client.CallAsync("project", new { action = "create", name = "mine" });

        Assert.True(get.IsError);
        Assert.Contains($"'project.get' on project {_project:D} is not allowed", get.Text, StringComparison.Ordinal);
        Assert.True(exec.IsError);
        Assert.Equal(0, list.Json.GetProperty("projects").GetArrayLength());
        Assert.True(create.IsError);
        Assert.Contains("'project.create' needs an admin token", create.Text, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_fixture.ProjectDirectory(_project), "workspaces", "x")));
    }

    [Fact]
    public async Task Read_only_project_scope_may_get_and_read_logs_but_not_exec_or_delete()
    {
        var secret = await _fixture.Home.CreateTokenAsync($"project:{_project:D}:ro");
        await using var client = await _fixture.ConnectAsync(secret);

        var get = await client.CallAsync("project", new { action = "get", project_id = _project.ToString("D") });
        var logs = await client.CallAsync("container", new { action = "logs", project_id = _project.ToString("D") });
        var list = await client.CallAsync("project", new { action = "list" });
        var exec = await client.CallAsync("container", new { action = "exec", project_id = _project.ToString("D"), command = "true" });
        var delete = await client.CallAsync("project", new { action = "delete", project_id = _project.ToString("D") });

        Assert.False(get.IsError, get.Text);
        Assert.False(logs.IsError, logs.Text);
        Assert.Equal(_project, list.Json.GetProperty("projects")[0].GetProperty("id").GetGuid());
        Assert.True(exec.IsError);
        Assert.Contains("is read-only", exec.Text, StringComparison.Ordinal);
        Assert.True(delete.IsError);
        Assert.Contains("is read-only", delete.Text, StringComparison.Ordinal);
        Assert.True(Directory.Exists(_fixture.ProjectDirectory(_project)));
    }

    [Fact]
    public async Task Project_scope_may_exec_on_its_own_project()
    {
        var secret = await _fixture.Home.CreateTokenAsync($"project:{_project:D}");
        await using var client = await _fixture.ConnectAsync(secret);

        var exec = await client.CallAsync("container", new { action = "exec", project_id = _project.ToString("D"), command = "echo ok" });

        Assert.Equal("ok\n", exec.Json.GetProperty("stdout").GetString());
    }
}
