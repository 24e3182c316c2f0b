using System.Diagnostics;
using Oubliette.Projects;
using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>
/// Operating project containers on the real engine: <c>docker logs oubliette-&lt;project-id&gt;</c> shows the agent, and a
/// custom container type is built from its recipe, rebuilt, and the project moved onto it by <c>container refresh</c>
/// (MCP and CLI), with <c>oubliette container list</c> telling which containers are current.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class ContainerOperationsTests(DockerEnvironment docker)
{
    [Fact]
    public async Task Docker_logs_show_the_agent_output_under_the_engines_init_also_after_a_server_restart()
    {
        await using var fixture = await SessionFixture.StartAsync(docker);
        var name = ProjectContainers.NameOf(fixture.ProjectId);
        fixture.Model.Enqueue(ScriptStep.Reply("first turn done", 10, 5));
        var sessionId = await fixture.SpawnAsync("say something");
        await fixture.WaitAsync(sessionId);

        var first = await DockerAsync("logs", name);
        Assert.Contains("level=INFO", first, StringComparison.Ordinal);
        var agentLog = await File.ReadAllTextAsync(Path.Combine(fixture.Server.ProjectDirectory(fixture.ProjectId), "run", "agent.log"));
        var line = first.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0];
        Assert.Contains(line, agentLog, StringComparison.Ordinal);

        // PID 1 is the engine's init (the host's read-only binary), its child the follower of the agent's log.
        var init = await DockerAsync("exec", name, "cat", "/proc/1/cmdline");
        Assert.StartsWith("/sbin/docker-init", init, StringComparison.Ordinal);

        // The agent keeps running across a server restart and is adopted; what it logs after that still shows.
        await fixture.Server.RestartServerAsync();
        fixture.Model.Enqueue(ScriptStep.Reply("second turn done", 10, 5));
        var message = await fixture.Admin.CallAsync("session", new { action = "message", session_id = sessionId, message = "again" });
        Assert.False(message.IsError, message.Text);
        await fixture.WaitAsync(sessionId);
        var second = await DockerAsync("logs", name);
        Assert.True(second.Length > first.Length, $"docker logs did not grow after the restart:\n{second}");

        var stopwatch = Stopwatch.StartNew();
        await DockerAsync("stop", name);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(4), $"docker stop took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task A_custom_type_is_built_from_its_recipe_and_refresh_moves_the_project_onto_each_rebuild()
    {
        var recipe = Directory.CreateTempSubdirectory("oubliette-recipe-").FullName;
        var image = $"oubliette-test-{docker.RunId}:custom";
        try
        {
            await WriteRecipeAsync(recipe, 1);
            var config = $$"""
                {
                  "server": { "address": "127.0.0.1:0" },
                  "containers": { "base": "oubliette-agent:base", "dev": "oubliette-agent:dev", "custom": { "image": "{{image}}", "recipe": "{{recipe}}" } },
                  "defaults": { "container": { "type": "base" } },
                }
                """;
            await using var fixture = await ProjectFixture.StartAsync(docker, config);
            var home = fixture.Home.Root;
            var built = await OublietteProcess.RunAsync(["image", "build", "--type", "custom", "--dir", home], TimeSpan.FromMinutes(3));
            Assert.True(built.ExitCode == 0, built.Output + built.Error);
            Assert.Contains($"built {image}", built.Output, StringComparison.Ordinal);
            var again = await OublietteProcess.RunAsync(["image", "build", "--type", "custom", "--dir", home], TimeSpan.FromMinutes(3));
            Assert.Contains("is up to date", again.Output, StringComparison.Ordinal);

            var (projectId, _) = await fixture.CreateProjectAsync("custom-" + Guid.NewGuid().ToString("N")[..6], "custom");
            var name = ProjectContainers.NameOf(projectId);
            var started = await fixture.Admin.CallAsync("container", new { action = "start", project_id = projectId.ToString("D") });
            Assert.False(started.IsError, started.Text);
            Assert.Equal("1", await DockerAsync("exec", name, "cat", "/etc/recipe-version"));
            Assert.Matches($@"{name}\s.*custom\s+{image.Replace(".", "\\.")}\s+running\s+yes", await ListAsync(home));

            // Rebuilt: the container is no longer current; the MCP refresh makes it again from the new image.
            await WriteRecipeAsync(recipe, 2);
            Assert.Equal(0, (await OublietteProcess.RunAsync(["image", "build", "--type", "custom", "--dir", home], TimeSpan.FromMinutes(3))).ExitCode);
            Assert.Matches($@"{name}\s.*running\s+no \(image rebuilt\)", await ListAsync(home));
            var refreshed = await fixture.Admin.CallAsync("container", new { action = "refresh", project_id = projectId.ToString("D") });
            Assert.False(refreshed.IsError, refreshed.Text);
            Assert.True(refreshed.Json.GetProperty("refreshed").GetBoolean());
            Assert.Equal(name, refreshed.Json.GetProperty("removed")[0].GetString());
            Assert.Equal("2", await DockerAsync("exec", name, "cat", "/etc/recipe-version"));
            Assert.Matches($@"{name}\s.*running\s+yes", await ListAsync(home));

            // And from the CLI (no server process of this home holds a pid file here).
            await WriteRecipeAsync(recipe, 3);
            Assert.Equal(0, (await OublietteProcess.RunAsync(["image", "build", "--type", "custom", "--dir", home], TimeSpan.FromMinutes(3))).ExitCode);
            var cli = await OublietteProcess.RunAsync(["container", "refresh", projectId.ToString("D"), "--dir", home]);
            Assert.True(cli.ExitCode == 0, cli.Output + cli.Error);
            Assert.Contains($"removed {name}", cli.Output, StringComparison.Ordinal);
            Assert.Equal("3", await DockerAsync("exec", name, "cat", "/etc/recipe-version"));
            // The test run's label stays on the container made in its place, so the run's clean-up finds it.
            Assert.Equal(docker.RunId, await DockerAsync("inspect", "--format", "{{index .Config.Labels \"oubliette.test\"}}", name));

            var unknown = await OublietteProcess.RunAsync(["image", "build", "--type", "nope", "--dir", home]);
            Assert.Equal(2, unknown.ExitCode);
            Assert.Contains("--type 'nope' is not a container type of the config", unknown.Error, StringComparison.Ordinal);
        }
        finally
        {
            await DockerAsync(ignoreFailure: true, "rmi", "-f", image);
            Directory.Delete(recipe, recursive: true);
        }
    }

    private static async Task WriteRecipeAsync(string folder, int version)
    {
        await File.WriteAllTextAsync(Path.Combine(folder, "version"), version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await File.WriteAllTextAsync(Path.Combine(folder, "Dockerfile"), "FROM oubliette-agent:base\nCOPY version /etc/recipe-version\n");
    }

    private static async Task<string> ListAsync(string home)
    {
        var listed = await OublietteProcess.RunAsync(["container", "list", "--dir", home]);
        Assert.True(listed.ExitCode == 0, listed.Output + listed.Error);
        return listed.Output;
    }

    private static Task<string> DockerAsync(params string[] arguments) => DockerAsync(false, arguments);

    private static async Task<string> DockerAsync(bool ignoreFailure, params string[] arguments)
    {
        var start = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0 && !ignoreFailure)
        {
            throw new InvalidOperationException($"docker {string.Join(' ', arguments)} failed ({process.ExitCode}): {await error}");
        }

        // docker logs writes the container's stderr to its own stderr: both are the container's output.
        return ((await output) + (await error)).Trim().Replace("\0", "", StringComparison.Ordinal);
    }
}
