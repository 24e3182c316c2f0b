using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Oubliette.Agents.OpenCode;
using Oubliette.Containers;
using Oubliette.Testing;

namespace Oubliette.Bench;

/// <summary>
/// The pinned OpenCode binary installed on the host, without Oubliette or Docker, its provider the scripted model
/// itself: the baseline Oubliette's figures are compared with. Deleted with everything it wrote when disposed.
/// </summary>
internal sealed class HostOpenCode : IDisposable
{
    private readonly DirectoryInfo _work;
    private readonly string _binary;
    private readonly string _home;
    private readonly string _config;

    private HostOpenCode(DirectoryInfo work, string binary, string home, string project, string config)
    {
        _work = work;
        _binary = binary;
        _home = home;
        ProjectDirectory = project;
        _config = config;
    }

    public string ProjectDirectory { get; }

    public static async Task<HostOpenCode> InstallAsync(ScriptedModelServer model)
    {
        var work = Directory.CreateTempSubdirectory("oubliette-opencode-baseline-");
        var version = (await File.ReadAllTextAsync(Path.Combine(ImageRecipe.DefaultDirectory, "opencode.version"))).Trim();
        var binary = Path.Combine(work.FullName, "opencode");
        await AgentImageBuilder.FetchOpenCodeAsync(version, work.FullName, binary, new Progress<string>(), CancellationToken.None);
        File.SetUnixFileMode(binary, (UnixFileMode)Convert.ToInt32("755", 8));
        var home = Directory.CreateDirectory(Path.Combine(work.FullName, "home")).FullName;
        var project = Directory.CreateDirectory(Path.Combine(work.FullName, "project")).FullName;
        var config = Path.Combine(work.FullName, "opencode.json");
        await File.WriteAllTextAsync(config, new JsonObject
        {
            ["autoupdate"] = false,
            ["share"] = "disabled",
            ["provider"] = new JsonObject
            {
                ["scripted"] = new JsonObject
                {
                    ["npm"] = "@ai-sdk/openai-compatible",
                    ["options"] = new JsonObject { ["baseURL"] = model.BaseUrl.ToString(), ["apiKey"] = "baseline" },
                    ["models"] = new JsonObject { ["scripted"] = new JsonObject { ["name"] = "scripted" } },
                },
            },
            ["model"] = "scripted/scripted",
            ["small_model"] = "scripted/scripted",
            ["permission"] = new JsonObject { ["edit"] = "allow", ["bash"] = "allow", ["webfetch"] = "allow" },
        }.ToJsonString());
        return new HostOpenCode(work, binary, home, project, config);
    }

    /// <summary>Starts <c>opencode serve</c> on a free loopback port and returns once it answers its health check.</summary>
    public async Task<Running> StartAsync()
    {
        var port = FreePort();
        var startInfo = new ProcessStartInfo(_binary, ["serve", "--hostname", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture)])
        {
            WorkingDirectory = ProjectDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        startInfo.Environment["HOME"] = _home;
        startInfo.Environment["OPENCODE_CONFIG"] = _config;
        foreach (var setting in OpenCodeRuntime.OfflineEnvironment)
        {
            var equals = setting.IndexOf('=', StringComparison.Ordinal);
            startInfo.Environment[setting[..equals]] = setting[(equals + 1)..];
        }
        var process = Process.Start(startInfo)!;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        var running = new Running(process, port, ProjectDirectory);
        await OpenCodeApi.WaitHealthyAsync(running.Http, TimeSpan.FromSeconds(60), () => process.HasExited ? $"it exited with code {process.ExitCode}" : "still starting");
        return running;
    }

    public void Dispose() => _work.Delete(recursive: true);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>One running <c>opencode serve</c>; disposing kills it.</summary>
    internal sealed class Running(Process process, int port, string projectDirectory) : IOpenCodeServer, IAsyncDisposable
    {
        public HttpClient Http { get; } = new() { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) };

        public EndPoint EndPoint { get; } = new IPEndPoint(IPAddress.Loopback, port);

        public Task<string> PromptNewSessionAsync(string text) => OpenCodeApi.PromptNewSessionAsync(Http, projectDirectory, text);

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            process.Dispose();
        }
    }
}
