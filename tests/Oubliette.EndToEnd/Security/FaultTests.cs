using System.Diagnostics;
using Oubliette.Testing;
using Xunit.Abstractions;

namespace Oubliette.EndToEnd.Security;

/// <summary>Faults of the real container and agent: a restarted container, a paused one.</summary>
[Collection(DockerCollection.Name)]
public sealed class FaultTests(DockerEnvironment docker, ITestOutputHelper output) : IAsyncLifetime
{
    private SessionFixture _fixture = null!;

    private string ContainerName => $"oubliette-{_fixture.ProjectId:D}";

    public async Task InitializeAsync() => _fixture = await SessionFixture.StartAsync(docker);

    public async Task DisposeAsync()
    {
        await DockerAsync("unpause", ContainerName);
        await _fixture.DisposeAsync();
    }

    [Fact]
    public async Task Spawn_right_after_container_restart_reaches_the_new_agent()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("first answer", 10, 5));
        await _fixture.WaitAsync(await _fixture.SpawnAsync("first"));

        var restarted = await _fixture.Admin.CallAsync("container", new { action = "restart", project_id = _fixture.ProjectId.ToString("D") });
        Assert.False(restarted.IsError, restarted.Text);
        _fixture.Model.Enqueue(ScriptStep.Reply("after the restart", 10, 5));
        var spawned = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt = "second", new_session = true });

        Assert.False(spawned.IsError, $"{spawned.Text}\n{_fixture.Diagnostics()}");
        var waited = await _fixture.WaitAsync(spawned.Json.GetProperty("session_id").GetString()!);
        Assert.Equal("idle", waited.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Spawn_into_a_paused_container_fails_within_a_bound_and_says_so()
    {
        _fixture.Model.Enqueue(ScriptStep.Reply("first answer", 10, 5));
        await _fixture.WaitAsync(await _fixture.SpawnAsync("first"));
        Assert.Equal(0, await DockerAsync("pause", ContainerName));

        var watch = Stopwatch.StartNew();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var spawned = await _fixture.Admin.CallAsync("session", new { action = "spawn", project_id = _fixture.ProjectId.ToString("D"), prompt = "second", new_session = true }, bound.Token);
        var exec = await _fixture.Admin.CallAsync("container", new { action = "exec", project_id = _fixture.ProjectId.ToString("D"), command = "true" }, bound.Token);

        output.WriteLine($"spawn and exec into the paused container answered in {watch.Elapsed}");
        Assert.True(spawned.IsError);
        Assert.Contains($"container {ContainerName} is paused", spawned.Text, StringComparison.Ordinal);
        Assert.Contains("restart", spawned.Text, StringComparison.Ordinal);
        Assert.True(exec.IsError);
        Assert.Contains($"container {ContainerName} is paused", exec.Text, StringComparison.Ordinal);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
        var sessions = await _fixture.Admin.CallAsync("session", new { action = "list", project_id = _fixture.ProjectId.ToString("D") });
        Assert.DoesNotContain("\"running\"", sessions.Text, StringComparison.Ordinal);
    }

    private static async Task<int> DockerAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("docker") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        await process.WaitForExitAsync();
        return process.ExitCode;
    }
}
