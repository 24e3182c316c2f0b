using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Oubliette.Agents;
using Oubliette.Containers;
using Oubliette.Testing;

namespace Oubliette.Tests.Cleanup;

/// <summary>
/// The whole server (in process, fakes of the engine and the agent, a fake clock) with cleanup every minute and a
/// minute's retention: an ended session leaves <c>session list</c> and the pass is logged in data/logs.
/// </summary>
public sealed class CleanupServerTests : IAsyncLifetime
{
    private const string Config = """
        {
          "server": { "address": "127.0.0.1:0" },
          "credentials": { "providers": { "credentials": { "scripted": { "provider": "openai-compatible", "api_key": "sk-x", "base_url": "http://127.0.0.1:9/v1" } }, "default": "scripted" } },
          "models": { "models": { "fast": { "model": "m", "provider": "scripted" } }, "defaults": { "session_model": "fast" } },
          "defaults": { "cleanup": { "interval_minutes": 1, "retention_minutes": 1 } },
        }
        """;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
    private TestHome _home = null!;
    private InProcessServer _server = null!;

    public async Task InitializeAsync()
    {
        _home = await TestHome.CreateAsync(Config, _time);
        _server = await InProcessServer.StartAsync(_home, _time, configureServices: services =>
        {
            services.AddSingleton<IContainerRuntime>(new FakeContainerRuntime());
            services.AddSingleton<IAgentRuntime>(new FakeAgentRuntime());
        });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _home.DisposeAsync();
    }

    [Fact]
    public async Task An_ended_session_leaves_session_list_after_retention_and_the_pass_is_logged_in_data_logs()
    {
        await using var client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        var project = (await client.CallAsync("project", new { action = "create", name = "tidy" })).Json.GetProperty("project").GetProperty("id").GetGuid();
        var session = (await client.CallAsync("session", new { action = "spawn", project_id = project, prompt = "hello" })).Json.GetProperty("session_id").GetString();
        await client.CallAsync("session", new { action = "end", session_id = session });
        Assert.Equal(1, await CountListedAsync());

        _time.Advance(TimeSpan.FromMinutes(1));

        var log = Path.Combine(_home.Home.LogsDirectory, "oubliette-20261130.log");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!File.Exists(log) || !(await File.ReadAllTextAsync(log, timeout.Token)).Contains("cleanup pass removed sessions=1,", StringComparison.Ordinal))
        {
            // The file logger writes in the background: its line is the signal that the pass is done.
            await Task.Delay(20, timeout.Token);
        }

        Assert.Equal(0, await CountListedAsync());
        Assert.Contains("""oubliette_cleanup_removed_total{kind="sessions"} 1""", await new HttpClient().GetStringAsync(new Uri(_server.Address, "/metrics")), StringComparison.Ordinal);

        async Task<int> CountListedAsync() =>
            (await client.CallAsync("session", new { action = "list", project_id = project })).Json.GetProperty("sessions").GetArrayLength();
    }
}
