using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>The runbook's commands, with agent containers running beside the server.</summary>
[Collection(DockerCollection.Name)]
public sealed class RunbookTests(DockerEnvironment docker)
{
    [Fact]
    public async Task Pgrep_oubliette_never_matches_a_process_inside_an_agent_container()
    {
        await using var fixture = await SessionFixture.StartAsync(docker);
        fixture.Model.Enqueue(ScriptStep.Reply("up"));
        var sessionId = await fixture.SpawnAsync("Start the agent");
        await fixture.WaitAsync(sessionId);

        var startInfo = new System.Diagnostics.ProcessStartInfo("pgrep", ["-f", "oubliette"]) { RedirectStandardOutput = true };
        using var pgrep = System.Diagnostics.Process.Start(startInfo)!;
        var pids = (await pgrep.StandardOutput.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        await pgrep.WaitForExitAsync();
        var inContainers = new List<string>();
        foreach (var pid in pids)
        {
            var cgroup = $"/proc/{pid}/cgroup";
            if (File.Exists(cgroup) && (await File.ReadAllTextAsync(cgroup)).Contains("docker", StringComparison.Ordinal))
            {
                inContainers.Add($"{pid}: {(await File.ReadAllTextAsync($"/proc/{pid}/cmdline")).Replace('\0', ' ')}");
            }
        }

        var agentProcesses = await fixture.Admin.CallAsync("container", new { action = "exec", project_id = fixture.ProjectId.ToString("D"), command = "ps -eo args" });
        Assert.Contains("opencode serve", agentProcesses.Text, StringComparison.Ordinal);
        Assert.Contains("socat", agentProcesses.Text, StringComparison.Ordinal);
        Assert.Empty(inContainers);
    }
}
