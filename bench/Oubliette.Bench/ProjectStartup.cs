using System.Diagnostics;
using Oubliette.Testing;

namespace Oubliette.Bench;

/// <summary>Project create until the container answers an exec, beside a plain <c>docker run --rm image true</c>.</summary>
internal static class ProjectStartup
{
    public static async Task<(double ProjectMedian, double DockerRunMedian)> RunAsync(ServerUnderTest server, int rounds)
    {
        await using var client = await McpTestClient.ConnectAsync(server.McpEndpoint, server.AdminSecret);
        var project = new List<double>();
        var baseline = new List<double>();
        for (var round = 0; round < rounds + 1; round++)
        {
            var started = Stopwatch.GetTimestamp();
            var created = await client.CallAsync("project", new { action = "create", name = $"bench-{Guid.NewGuid():N}", container_type = "base" });
            var id = created.Json.GetProperty("project").GetProperty("id").GetString();
            var exec = await client.CallAsync("container", new { action = "exec", project_id = id, command = "true" });
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (exec.IsError)
            {
                throw new InvalidOperationException(exec.Text);
            }

            await client.CallAsync("project", new { action = "delete", project_id = id });
            var dockerRun = await TimeDockerRunAsync();
            // The first round warms both paths (JIT, page cache) and is not counted.
            if (round > 0)
            {
                project.Add(elapsed);
                baseline.Add(dockerRun);
            }
        }

        return (Statistics.Median(project), Statistics.Median(baseline));
    }

    private static async Task<double> TimeDockerRunAsync()
    {
        var started = Stopwatch.GetTimestamp();
        using var process = Process.Start(new ProcessStartInfo("docker", ["run", "--rm", "--network", "none", "oubliette-agent:base", "true"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(await process.StandardError.ReadToEndAsync());
        }

        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }
}
