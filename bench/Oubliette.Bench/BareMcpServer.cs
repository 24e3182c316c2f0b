using System.ComponentModel;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Server;

namespace Oubliette.Bench;

/// <summary>
/// The yardstick for MCP call throughput: a bare ModelContextProtocol.AspNetCore server with one trivial tool and no
/// authentication, in its own process on loopback like oubliette (the bench executable relaunched with
/// <c>--bare-mcp-server</c>), stateful Streamable HTTP (the SDK's default, as oubliette), and oubliette's runtime settings
/// (workstation non-concurrent GC, no thread-pool spinning, GCConserveMemory 5) so that only the code differs.
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

    /// <summary>Starts the bare server in a child process and waits for the address it prints.</summary>
    public static async Task<BareMcpServer> StartAsync()
    {
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
        // oubliette's runtimeconfig (src/Oubliette/Oubliette.csproj), applied to this process through the environment.
        startInfo.Environment["DOTNET_gcServer"] = "0";
        startInfo.Environment["DOTNET_gcConcurrent"] = "0";
        startInfo.Environment["DOTNET_GCConserveMemory"] = "5";
        startInfo.Environment["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0";
        var process = Process.Start(startInfo) ?? throw new InvalidOperationException("could not start the bare MCP server");
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30))
            ?? throw new InvalidOperationException("the bare MCP server exited before printing its address");
        return new BareMcpServer(process, new Uri(new Uri(line.Trim()), "/mcp"));
    }

    /// <summary>The child's side: serves until its standard input closes.</summary>
    public static async Task ServeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddMcpServer().WithHttpTransport().WithTools<EchoTool>();
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

    [McpServerToolType]
    public sealed class EchoTool
    {
        [McpServerTool(Name = "echo")]
        [Description("Returns its input.")]
        public static string Echo(string action) => action;
    }
}
