using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Oubliette.Bench;

/// <summary>
/// The yardstick for MCP call throughput: a bare ModelContextProtocol.AspNetCore server with one trivial tool and no
/// authentication, in its own process on loopback like oubliette (the bench executable relaunched with
/// <c>--bare-mcp-server</c>), the same session mode as oubliette (<see cref="HttpServerSessionMode.StatefulForInitializeClients"/>:
/// the SDK's default is stateless, which builds a server per request), and oubliette's runtime settings (workstation
/// non-concurrent GC, no thread-pool spinning, GCConserveMemory 5) so that only the code differs. Its one tool,
/// <c>options</c>, answers every call with a fixed result (the bytes oubliette's <c>project options</c> answered, read
/// from a file given on the command line), so both servers write the same response and the client parses the same
/// bytes: what differs is only what oubliette does around the call.
/// </summary>
internal sealed class BareMcpServer : IAsyncDisposable
{
    public const string Argument = "--bare-mcp-server";

    private readonly Process _process;

    private BareMcpServer(Process process, Uri endpoint)
    {
        _process = process;
        McpEndpoint = endpoint;
    }

    public Uri McpEndpoint { get; }

    public double CpuSeconds() => ServerUnderTest.CpuSecondsOf(_process.Id);

    /// <summary>Starts the bare server in a child process and waits for the address it prints; its tool answers <paramref name="result"/>.</summary>
    public static async Task<BareMcpServer> StartAsync(CallToolResult result)
    {
        var resultFile = Path.Combine(Path.GetTempPath(), $"oubliette-bench-bare-{Environment.ProcessId}.json");
        await File.WriteAllBytesAsync(resultFile, JsonSerializer.SerializeToUtf8Bytes(result, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CallToolResult))));
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var startInfo = new ProcessStartInfo(self)
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            startInfo.ArgumentList.Add(typeof(BareMcpServer).Assembly.Location);
        }

        startInfo.ArgumentList.Add(Argument);
        startInfo.ArgumentList.Add(resultFile);
        // oubliette's runtimeconfig (src/Oubliette/Oubliette.csproj), applied to this process through the environment.
        startInfo.Environment["DOTNET_gcServer"] = "0";
        startInfo.Environment["DOTNET_gcConcurrent"] = "0";
        startInfo.Environment["DOTNET_GCConserveMemory"] = "5";
        startInfo.Environment["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0";
        var process = Process.Start(startInfo) ?? throw new InvalidOperationException("could not start the bare MCP server");
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30))
            ?? throw new InvalidOperationException("the bare MCP server exited before printing its address");
        File.Delete(resultFile);
        return new BareMcpServer(process, new Uri(new Uri(line.Trim()), "/mcp"));
    }

    /// <summary>The child's side: serves until its standard input closes; its tool answers the result in <paramref name="resultFile"/>.</summary>
    public static async Task ServeAsync(string resultFile)
    {
        var result = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(resultFile), McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CallToolResult))) as CallToolResult
            ?? throw new InvalidOperationException($"no tool result in {resultFile}");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var tool = McpServerTool.Create([Description("Returns a fixed result.")] (string action) => result, new McpServerToolCreateOptions { Name = "options" });
        builder.Services.AddMcpServer()
            .WithHttpTransport(transport => transport.SessionMode = HttpServerSessionMode.StatefulForInitializeClients)
            .WithTools([tool]);
        var app = builder.Build();
        app.MapMcp("/mcp");
        await app.StartAsync();
        Console.WriteLine(app.Urls.First());
        await Console.In.ReadToEndAsync();
        await app.StopAsync();
        await app.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        _process.StandardInput.Close();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
