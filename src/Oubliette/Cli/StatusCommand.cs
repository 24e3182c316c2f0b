using System.CommandLine;
using System.Diagnostics;
using Oubliette.Operations;

namespace Oubliette.Cli;

/// <summary><c>oubliette status</c>: pid, address, uptime and health of the server of this home.</summary>
public sealed class StatusCommand
{
    private readonly CliContext _context;

    public StatusCommand(CliContext context)
    {
        _context = context;
        Command = new Command("status", "Show whether the server runs, with its pid, address, uptime and health.");
        Command.SetAction(RunAsync);
    }

    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var home = _context.ResolveHome(parseResult);
        var runFiles = new RunFiles(home);
        if (runFiles.LivePid() is not { } pid)
        {
            await _context.Out.WriteLineAsync($"oubliette is not running for {home.Root}");
            return CliApp.Failure;
        }

        using var process = Process.GetProcessById(pid);
        var uptime = _context.Time.GetLocalNow().LocalDateTime - process.StartTime;
        var address = runFiles.ReadAddress();
        var health = address is null ? "unknown (no address file yet)" : await ProbeHealthAsync(address, cancellationToken);
        await _context.Out.WriteLineAsync($"""
            oubliette is running
              pid:     {pid}
              address: {address?.GetLeftPart(UriPartial.Authority) ?? "-"}
              uptime:  {uptime:d\.hh\:mm\:ss}
              health:  {health}
              home:    {home.Root}
            """);
        return health == "ok" ? CliApp.Success : CliApp.Failure;
    }

    private static async Task<string> ProbeHealthAsync(Uri address, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            using var response = await http.GetAsync(new Uri(address, "/health"), cancellationToken);
            return response.IsSuccessStatusCode ? "ok" : $"failing (HTTP {(int)response.StatusCode})";
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            return $"not answering ({exception.Message})";
        }
    }
}
