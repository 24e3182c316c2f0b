using System.CommandLine;
using System.Diagnostics;
using Oubliette.Operations;

namespace Oubliette.Cli;

/// <summary><c>oubliette stop</c>: SIGTERM to the server named by the pid file, then wait for it to exit.</summary>
public sealed class StopCommand
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(45);
    private readonly CliContext _context;

    public StopCommand(CliContext context)
    {
        _context = context;
        Command = new Command("stop", "Stop the server of this home (SIGTERM, then wait for it to drain and exit); exit 0 when it is not running.");
        Command.SetAction(RunAsync);
    }

    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var home = _context.ResolveHome(parseResult);
        if (new RunFiles(home).LivePid() is not { } pid)
        {
            // Nothing to stop is the state asked for: success, so that scripts (and the runbook's upgrade) may always call it.
            await _context.Out.WriteLineAsync($"oubliette is not running for {home.Root} (no live pid file at {home.PidFile}); nothing to stop");
            return CliApp.Success;
        }

        using var process = Process.GetProcessById(pid);
        if (NativeMethods.Kill(pid, NativeMethods.SigTerm) != 0)
        {
            await _context.Error.WriteLineAsync($"error: could not signal pid {pid} (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
            return CliApp.Failure;
        }

        await _context.Out.WriteLineAsync($"sent SIGTERM to oubliette (pid {pid}); waiting for it to exit…");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ExitTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await _context.Error.WriteLineAsync($"error: oubliette (pid {pid}) did not exit within {ExitTimeout.TotalSeconds:0} s");
            return CliApp.Failure;
        }

        await _context.Out.WriteLineAsync($"oubliette stopped (pid {pid})");
        return CliApp.Success;
    }
}
