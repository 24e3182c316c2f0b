using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Oubliette.Testing;

namespace Oubliette.EndToEnd.Security;

/// <summary>
/// Clone sources and workspace folders under attack (issue 12): a project token cannot clone host repositories or
/// reach loopback services, a GitHub token goes only to its hosts, and no link an agent or a repository plants makes
/// the server chown host folders.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class CloneAttackTests(DockerEnvironment docker) : IAsyncLifetime
{
    private const string DefaultToken = "ghp_defaultcredential0123456789";
    private const string ScopedToken = "ghp_scopedcredential0123456789";
    private readonly RecordingListener _allowed = new();
    private readonly RecordingListener _unlisted = new();
    private ProjectFixture _fixture = null!;
    private string _hostDirectory = null!;

    public async Task InitializeAsync()
    {
        _hostDirectory = Directory.CreateTempSubdirectory("oubliette-hostdir-").FullName;
        await File.WriteAllTextAsync(Path.Combine(_hostDirectory, "host-file"), "root's\n");
        _fixture = await ProjectFixture.StartAsync(docker, $$"""
            {
              "server": { "address": "127.0.0.1:0" },
              "git": { "allowed_hosts": ["127.0.0.1:{{_allowed.Port}}"], "allow_local_sources": true },
              "credentials": { "github": {
                "credentials": {
                  "work": { "token": "{{DefaultToken}}" },
                  "scoped": { "token": "{{ScopedToken}}", "hosts": ["github.com", "127.0.0.1:{{_allowed.Port}}"] },
                },
                "default": "work",
              } },
            }
            """);
    }

    public async Task DisposeAsync()
    {
        await _fixture.DisposeAsync();
        _allowed.Dispose();
        _unlisted.Dispose();
        Directory.Delete(_hostDirectory, recursive: true);
    }

    private async Task<(Guid Id, Guid DefaultWorkspace)> CreateProjectAsync(string name, string? credential = null)
    {
        var outcome = await _fixture.Admin.CallAsync("project", new { action = "create", name, container_type = "base", github_credential = credential });
        Assert.False(outcome.IsError, outcome.Text);
        var project = outcome.Json.GetProperty("project");
        return (project.GetProperty("id").GetGuid(), project.GetProperty("default_workspace_id").GetGuid());
    }

    private string WorkspacesDirectory(Guid project) => Path.Combine(_fixture.ProjectDirectory(project), "workspaces");

    private async Task<(int Listed, string[] Folders)> WorkspaceStateAsync(Guid project)
    {
        var listed = await _fixture.Admin.CallAsync("workspace", new { action = "list", project_id = project.ToString("D") });
        return (listed.Json.GetProperty("workspaces").GetArrayLength(), [.. Directory.GetFileSystemEntries(_fixture.ProjectDirectory(project), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)]);
    }

    [Theory]
    [InlineData("file:///etc")]
    [InlineData("/etc")]
    public async Task Project_token_cannot_clone_host_repositories(string source)
    {
        var (project, _) = await CreateProjectAsync("local-" + source.Length);
        await using var client = await _fixture.ConnectAsync(await _fixture.Home.CreateTokenAsync($"project:{project:D}"));
        var before = await WorkspaceStateAsync(project);

        var outcome = await client.CallAsync("workspace", new { action = "create", project_id = project.ToString("D"), source });

        Assert.True(outcome.IsError, outcome.Text);
        Assert.Contains(
            $"source '{source}' is a local source; file:// URLs and host paths are allowed only for admin tokens when the operator sets git.allow_local_sources: true (allowed: https:// URLs of public hosts; http:// and https:// URLs of the hosts in git.allowed_hosts)",
            outcome.Text, StringComparison.Ordinal);
        var after = await WorkspaceStateAsync(project);
        Assert.Equal(before.Listed, after.Listed);
        Assert.Equal(before.Folders, after.Folders);
    }

    [Fact]
    public async Task Loopback_services_not_allow_listed_are_never_contacted()
    {
        var (project, _) = await CreateProjectAsync("ssrf");
        await using var client = await _fixture.ConnectAsync(await _fixture.Home.CreateTokenAsync($"project:{project:D}"));
        var before = await WorkspaceStateAsync(project);
        var projectsBefore = await _fixture.ProjectCountAsync();
        var containersBefore = await _fixture.ContainerCountAsync();
        var url = $"http://127.0.0.1:{_unlisted.Port}/internal/admin";

        var workspace = await client.CallAsync("workspace", new { action = "create", project_id = project.ToString("D"), source = url });
        var https = await client.CallAsync("workspace", new { action = "create", project_id = project.ToString("D"), source = $"https://127.0.0.1:{_unlisted.Port}/x" });
        var created = await _fixture.Admin.CallAsync("project", new { action = "create", name = "ssrf-project", container_type = "base", remote_url = url });

        Assert.True(workspace.IsError);
        Assert.Contains($"source '{url}' uses http://, which is allowed only for hosts listed in git.allowed_hosts ('127.0.0.1:{_unlisted.Port}' is not)", workspace.Text, StringComparison.Ordinal);
        Assert.True(https.IsError);
        Assert.Contains("reaches 127.0.0.1 (loopback)", https.Text, StringComparison.Ordinal);
        Assert.True(created.IsError);
        Assert.Contains($"remote_url '{url}' uses http://", created.Text, StringComparison.Ordinal);
        Assert.Empty(_unlisted.Requests);
        var after = await WorkspaceStateAsync(project);
        Assert.Equal(before.Listed, after.Listed);
        Assert.Equal(before.Folders, after.Folders);
        Assert.Equal(projectsBefore, await _fixture.ProjectCountAsync());
        Assert.Equal(containersBefore, await _fixture.ContainerCountAsync());
    }

    [Fact]
    public async Task A_github_credential_goes_only_to_the_hosts_it_is_configured_for()
    {
        var (plain, _) = await CreateProjectAsync("default-credential", "work");
        var (scoped, _) = await CreateProjectAsync("scoped-credential", "scoped");
        await using var plainClient = await _fixture.ConnectAsync(await _fixture.Home.CreateTokenAsync($"project:{plain:D}"));
        await using var scopedClient = await _fixture.ConnectAsync(await _fixture.Home.CreateTokenAsync($"project:{scoped:D}"));

        var toListener = await plainClient.CallAsync("workspace", new { action = "create", project_id = plain.ToString("D"), source = $"http://127.0.0.1:{_allowed.Port}/plain/repo.git" });
        var plainRequests = _allowed.Requests.Where(request => request.Contains("/plain/", StringComparison.Ordinal)).ToList();
        var control = await scopedClient.CallAsync("workspace", new { action = "create", project_id = scoped.ToString("D"), source = $"http://127.0.0.1:{_allowed.Port}/scoped/repo.git" });
        var scopedRequests = _allowed.Requests.Where(request => request.Contains("/scoped/", StringComparison.Ordinal)).ToList();

        Assert.True(toListener.IsError, toListener.Text);
        Assert.Contains($"could not clone 'http://127.0.0.1:{_allowed.Port}/plain/repo.git'", toListener.Text, StringComparison.Ordinal);
        Assert.NotEmpty(plainRequests);
        Assert.All(plainRequests, request => Assert.DoesNotContain("authorization:", request, StringComparison.OrdinalIgnoreCase));
        Assert.All(_allowed.Requests, request => Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes("x-access-token:" + DefaultToken)), request, StringComparison.Ordinal));
        Assert.True(control.IsError, control.Text);
        Assert.Contains(scopedRequests, request => request.Contains(
            "Authorization: Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("x-access-token:" + ScopedToken)), StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(ScopedToken, control.Text, StringComparison.Ordinal);
        // git's error is kept whole, not cut to its last line.
        Assert.Contains("not found", control.Text, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_link_planted_by_the_agent_is_not_chowned_through()
    {
        var (project, workspace) = await CreateProjectAsync("planted-link");
        var plant = await DockerExecAsync(project, $"ln -s {_hostDirectory} /workspace/{workspace:D}/link && ln -s {_hostDirectory}/host-file /workspace/{workspace:D}/file-link && ls -la /workspace/{workspace:D}");
        Assert.True(plant.ExitCode == 0, plant.Output);

        var created = await _fixture.Admin.CallAsync("workspace", new { action = "create", project_id = project.ToString("D") });
        var isolated = await _fixture.Admin.CallAsync("workspace", new { action = "create", project_id = project.ToString("D"), external_id = "second" });

        Assert.False(created.IsError, created.Text);
        Assert.False(isolated.IsError, isolated.Text);
        Assert.Equal("0:0", await OwnerAsync(_hostDirectory));
        Assert.Equal("0:0", await OwnerAsync(Path.Combine(_hostDirectory, "host-file")));
        Assert.Equal("1000:1000", await OwnerAsync(Path.Combine(WorkspacesDirectory(project), created.Json.GetProperty("workspace").GetProperty("id").GetString()!)));
    }

    [Fact]
    public async Task A_link_inside_a_cloned_repository_is_not_chowned_through()
    {
        var (project, _) = await CreateProjectAsync("repo-link");
        var origin = Directory.CreateTempSubdirectory("oubliette-origin-").FullName;
        try
        {
            File.SetUnixFileMode(origin, (UnixFileMode)Convert.ToInt32("755", 8));
            await RunAsync("git", origin, "init", "--quiet", "--initial-branch=main");
            File.CreateSymbolicLink(Path.Combine(origin, "escape"), _hostDirectory);
            await File.WriteAllTextAsync(Path.Combine(origin, "README.md"), "hi\n");
            await RunAsync("git", origin, "add", "escape", "README.md");
            await RunAsync("git", origin, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "link");

            var cloned = await _fixture.Admin.CallAsync("workspace", new { action = "create", project_id = project.ToString("D"), source = $"file://{origin}" });
            var later = await _fixture.Admin.CallAsync("workspace", new { action = "create", project_id = project.ToString("D") });
            var bare = await _fixture.Admin.CallAsync("workspace", new { action = "create", project_id = project.ToString("D"), source = origin });

            Assert.False(cloned.IsError, cloned.Text);
            Assert.False(later.IsError, later.Text);
            Assert.False(bare.IsError, bare.Text);
            var clone = Path.Combine(WorkspacesDirectory(project), cloned.Json.GetProperty("workspace").GetProperty("id").GetString()!);
            Assert.Equal(_hostDirectory, new FileInfo(Path.Combine(clone, "escape")).LinkTarget);
            Assert.Equal("1000:1000", await OwnerAsync(Path.Combine(clone, "README.md")));
            Assert.Equal("0:0", await OwnerAsync(_hostDirectory));
            Assert.Equal("0:0", await OwnerAsync(Path.Combine(_hostDirectory, "host-file")));
        }
        finally
        {
            Directory.Delete(origin, recursive: true);
        }
    }

    [Fact]
    public async Task The_agent_cannot_create_or_replace_entries_in_the_workspace_folder()
    {
        var (project, workspace) = await CreateProjectAsync("top-level");

        var touch = await DockerExecAsync(project, "touch /workspace/planted");
        var mkdir = await DockerExecAsync(project, "mkdir /workspace/planted-dir");
        var link = await DockerExecAsync(project, $"ln -s {_hostDirectory} /workspace/planted-link");
        var rename = await DockerExecAsync(project, $"mv /workspace/{workspace:D} /workspace/moved");
        var replace = await DockerExecAsync(project, $"rm -rf /workspace/{workspace:D}/.git && rmdir /workspace/{workspace:D}");
        var inside = await DockerExecAsync(project, $"touch /workspace/{workspace:D}/mine");

        Assert.All([touch, mkdir, link, rename, replace], result => Assert.NotEqual(0, result.ExitCode));
        Assert.Equal(0, inside.ExitCode);
        Assert.Equal([workspace.ToString("D")], Directory.GetFileSystemEntries(WorkspacesDirectory(project)).Select(Path.GetFileName));
        Assert.Equal("0:0", await OwnerAsync(WorkspacesDirectory(project)));
        Assert.Equal("755", (await RunAsync("stat", "/", "-c", "%a", WorkspacesDirectory(project))).Trim());
    }

    [Fact]
    public async Task An_older_workspaces_folder_owned_by_the_agent_is_taken_back_without_recursion()
    {
        var (project, workspace) = await CreateProjectAsync("older");
        var workspaces = WorkspacesDirectory(project);
        await RunAsync("chown", "/", "1000:1000", workspaces);
        var plant = await DockerExecAsync(project, $"ln -s {_hostDirectory} /workspace/planted && ls -la /workspace");
        Assert.True(plant.ExitCode == 0, plant.Output);

        var created = await _fixture.Admin.CallAsync("workspace", new { action = "create", project_id = project.ToString("D") });

        Assert.False(created.IsError, created.Text);
        Assert.Equal("0:0", await OwnerAsync(workspaces));
        Assert.Equal("1000:1000", await OwnerAsync(Path.Combine(workspaces, workspace.ToString("D"))));
        Assert.Equal("0:0", await OwnerAsync(_hostDirectory));
        Assert.Equal("0:0", await OwnerAsync(Path.Combine(_hostDirectory, "host-file")));
    }

    private static async Task<string> OwnerAsync(string path) => (await RunAsync("stat", "/", "-c", "%u:%g", path)).Trim();

    private static async Task<(long ExitCode, string Output)> DockerExecAsync(Guid project, string command)
    {
        var startInfo = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["exec", "-u", "gogol", $"oubliette-{project:D}", "sh", "-c", command])
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    private static async Task<string> RunAsync(string program, string directory, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await stderr);
        return await stdout;
    }

    /// <summary>A loopback HTTP listener that records each request's head and answers 404.</summary>
    private sealed class RecordingListener : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly List<string> _requests = [];
        private readonly CancellationTokenSource _stop = new();

        public RecordingListener()
        {
            _listener.Start();
            _ = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public IReadOnlyList<string> Requests
        {
            get
            {
                lock (_requests)
                {
                    return [.. _requests];
                }
            }
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                _ = ServeAsync(client);
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            using (client)
            {
                var stream = client.GetStream();
                var head = new StringBuilder();
                var buffer = new byte[4096];
                while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal) && head.Length < 65536)
                {
                    var read = await stream.ReadAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        break;
                    }

                    head.Append(Encoding.ASCII.GetString(buffer, 0, read));
                }

                lock (_requests)
                {
                    _requests.Add(head.ToString());
                }

                await stream.WriteAsync("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), _stop.Token);
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _stop.Dispose();
        }
    }
}
