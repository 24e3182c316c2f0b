using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Oubliette.Operations;

namespace Oubliette.Cli;

/// <summary>
/// <c>oubliette status</c>: version, pid, address, uptime and health of the server of the resolved home (which, through the
/// home <c>./run.sh</c> recorded, is the same from any directory). Exit 0 when it runs and answers, 1 otherwise.
/// </summary>
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
            await _context.Out.WriteLineAsync($"oubliette is not running for {home.Root} (no live pid file at {home.PidFile})");
            return CliApp.Failure;
        }

        using var process = Process.GetProcessById(pid);
        var uptime = _context.Time.GetLocalNow().LocalDateTime - process.StartTime;
        var address = runFiles.ReadAddress();
        var (health, version) = address is null ? ("unknown (no address file yet)", null) : await ProbeHealthAsync(address, cancellationToken);
        await _context.Out.WriteLineAsync($"""
            oubliette is running
              version: {version ?? "unknown (no answer from /health)"}
              pid:     {pid}
              address: {address?.GetLeftPart(UriPartial.Authority) ?? "-"}
              uptime:  {uptime:d\.hh\:mm\:ss}
              health:  {health}
              home:    {home.Root}
            """);
        return health == "ok" ? CliApp.Success : CliApp.Failure;
    }

    /// <summary>The health and the version the running server reports (not this executable's: they differ mid-upgrade).</summary>
    private static async Task<(string Health, string? Version)> ProbeHealthAsync(Uri address, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            using var response = await http.GetAsync(new Uri(address, "/health"), cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return ($"failing (HTTP {(int)response.StatusCode})", null);
            }

            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            var version = body.RootElement.TryGetProperty("version", out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            return ("ok", version);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or JsonException)
        {
            return ($"not answering ({exception.Message})", null);
        }
    }
}
