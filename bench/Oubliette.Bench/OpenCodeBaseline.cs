using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Oubliette.Containers;
using Oubliette.Testing;

namespace Oubliette.Bench;

/// <summary>
/// OpenCode's own cold start on this machine, without Oubliette or Docker: the pinned binary started on the host, asked
/// for one session and one prompt against the scripted model; time to its first text event. Measured on its second start
/// in the same home, as a stopped container restarts with its home kept.
/// </summary>
internal static class OpenCodeBaseline
{
    public static async Task<double> ColdFirstEventAsync(ScriptedModelServer model)
    {
        var work = Directory.CreateTempSubdirectory("oubliette-opencode-baseline-");
        try
        {
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
            // The first start in a fresh home also initializes OpenCode's own state; a restart is what a stopped container sees.
            await MeasureAsync(binary, home, project, config, model);
            return await MeasureAsync(binary, home, project, config, model);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static async Task<double> MeasureAsync(string binary, string home, string project, string config, ScriptedModelServer model)
    {
        {
            var port = FreePort();
            var startInfo = new ProcessStartInfo(binary, ["serve", "--hostname", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)])
            {
                WorkingDirectory = project,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            startInfo.Environment["HOME"] = home;
            startInfo.Environment["OPENCODE_CONFIG"] = config;
            startInfo.Environment["OPENCODE_DISABLE_MODELS_FETCH"] = "true";
            startInfo.Environment["OPENCODE_DISABLE_AUTOUPDATE"] = "true";
            startInfo.Environment["OPENCODE_DISABLE_LSP_DOWNLOAD"] = "true";
            startInfo.Environment["OPENCODE_DISABLE_SHARE"] = "true";
            model.Enqueue(ScriptStep.Reply("ok"));

            var clock = Stopwatch.StartNew();
            using var process = Process.Start(startInfo)!;
            _ = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            try
            {
                using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) };
                while (!await HealthyAsync(http))
                {
                    await Task.Delay(25);
                }

                using var events = await http.GetAsync("global/event", HttpCompletionOption.ResponseHeadersRead);
                using var reader = new StreamReader(await events.Content.ReadAsStreamAsync());
                using var created = await http.PostAsJsonAsync($"session?directory={Uri.EscapeDataString(project)}", new JsonObject());
                var session = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
                using var prompted = await http.PostAsJsonAsync($"session/{session}/prompt_async?directory={Uri.EscapeDataString(project)}", new JsonObject
                {
                    ["parts"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = "reply ok" }),
                    ["model"] = new JsonObject { ["providerID"] = "scripted", ["modelID"] = "scripted" },
                });
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (line.Contains("\"message.part.delta\"", StringComparison.Ordinal)
                        || (line.Contains("\"message.part.updated\"", StringComparison.Ordinal) && line.Contains("\"type\":\"text\",\"text\":\"ok\"", StringComparison.Ordinal)))
                    {
                        return clock.Elapsed.TotalMilliseconds;
                    }
                }

                throw new InvalidOperationException("OpenCode's event stream ended before its first text event");
            }
            finally
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
    }

    private static async Task<bool> HealthyAsync(HttpClient http)
    {
        using var probe = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        try
        {
            using var response = await http.GetAsync("global/health", probe.Token);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
