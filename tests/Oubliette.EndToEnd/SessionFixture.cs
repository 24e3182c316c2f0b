using System.Collections.Concurrent;
using System.Text.Json;
using ModelContextProtocol.Client;
using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>A server whose only model is the scripted one, a project on the base image, and helpers for sessions.</summary>
public sealed class SessionFixture : IAsyncDisposable
{
    public const string ProviderKey = "sk-scripted-provider-key-0123456789";

    private SessionFixture(ScriptedModelServer model, ProjectFixture server, Guid project, Guid workspace)
    {
        Model = model;
        Server = server;
        ProjectId = project;
        WorkspaceId = workspace;
    }

    public ScriptedModelServer Model { get; }
    public ProjectFixture Server { get; }
    public Guid ProjectId { get; }
    public Guid WorkspaceId { get; }
    public McpClient Admin => Server.Admin;

    public static string Config(Uri modelBaseUrl, string extraDefaults = "", string kind = "openai-compatible", string extraServer = "") => $$"""
        {
          "server": { "address": "127.0.0.1:0", {{extraServer}} },
          "credentials": {
            "providers": {
              "credentials": { "scripted": { "provider": "{{kind}}", "api_key": "{{ProviderKey}}", "base_url": "{{modelBaseUrl}}" } },
              "default": "scripted",
            },
          },
          "models": {
            "models": { "fast": { "model": "scripted-model", "provider": "scripted", "extraHeaders": { "x-team": "oubliette" }, "cost": { "input": 1000, "output": 2000 } } },
            "defaults": { "session_model": "fast" },
          },
          "defaults": { {{extraDefaults}} },
        }
        """;

    public static async Task<SessionFixture> StartAsync(DockerEnvironment docker, string extraDefaults = "", string kind = "openai-compatible", string extraServer = "")
    {
        var model = await ScriptedModelServer.StartAsync();
        var server = await ProjectFixture.StartAsync(docker, Config(model.BaseUrl, extraDefaults, kind, extraServer));
        var (project, workspace) = await server.CreateProjectAsync("agents-" + Guid.NewGuid().ToString("N")[..6]);
        return new SessionFixture(model, server, project, workspace);
    }

    public string HostWorkspace => Path.Combine(Server.ProjectDirectory(ProjectId), "workspaces", WorkspaceId.ToString("D"));

    public async Task<string> SpawnAsync(string prompt, McpClient? client = null)
    {
        var outcome = await (client ?? Admin).CallAsync("session", new { action = "spawn", project_id = ProjectId.ToString("D"), prompt });
        Assert.False(outcome.IsError, outcome.Text);
        return outcome.Json.GetProperty("session_id").GetString()!;
    }

    public async Task<JsonElement> WaitAsync(string sessionId, string until = "idle", int timeoutSeconds = 90)
    {
        var outcome = await Admin.CallAsync("session", new { action = "wait", session_id = sessionId, until, timeout_seconds = timeoutSeconds });
        Assert.False(outcome.IsError, outcome.Text);
        Assert.True(outcome.Json.GetProperty("reached").GetBoolean(), $"session {sessionId} did not reach {until}: {outcome.Text}\n{Diagnostics()}");
        return outcome.Json;
    }

    /// <summary>What to read when a session test fails: the agent's log, the model's requests, the server log.</summary>
    public string Diagnostics()
    {
        string Tail(string path) => File.Exists(path) ? string.Join('\n', File.ReadLines(path).TakeLast(40)) : $"({path} missing)";
        var serverLog = Directory.GetFiles(Server.Home.Home.LogsDirectory, "oubliette-*.log").FirstOrDefault() ?? "";
        return $"--- agent.log\n{Tail(Path.Combine(Server.ProjectDirectory(ProjectId), "run", "agent.log"))}\n"
            + $"--- model requests: {Model.Requests.Count} ({Model.AgentRequests.Count} agent)\n"
            + $"--- server log\n{Tail(serverLog)}";
    }

    public async Task<List<JsonElement>> EventsAsync(string sessionId, long sinceIndex = -1)
    {
        var outcome = await Admin.CallAsync("session", new { action = "events", session_id = sessionId, since_index = sinceIndex });
        Assert.False(outcome.IsError, outcome.Text);
        return [.. outcome.Json.GetProperty("events").EnumerateArray()];
    }

    public async Task<JsonElement> GetAsync(string sessionId) =>
        (await Admin.CallAsync("session", new { action = "get", session_id = sessionId })).Json.GetProperty("session");

    /// <summary>Collects the pushed <c>notifications/message</c> of one client.</summary>
    public static ConcurrentQueue<JsonElement> CollectNotifications(McpClient client)
    {
        var received = new ConcurrentQueue<JsonElement>();
        client.RegisterNotificationHandler("notifications/message", (notification, _) =>
        {
            if (notification.Params is { } parameters)
            {
                received.Enqueue(JsonSerializer.SerializeToElement(parameters));
            }

            return ValueTask.CompletedTask;
        });
        return received;
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await Model.DisposeAsync();
    }
}
