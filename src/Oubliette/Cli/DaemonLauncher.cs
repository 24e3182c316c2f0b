using System.Diagnostics;
using Oubliette.Configuration;
using Oubliette.Operations;

namespace Oubliette.Cli;

/// <summary>
/// Starts the server as a detached background process, waits until it answers <c>/health</c>, and reports its address
/// and pid, or the log to read when it failed.
/// </summary>
internal sealed class DaemonLauncher(CliContext context, OublietteHome home)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(100);

    public async Task<int> StartAsync(CancellationToken cancellationToken)
    {
        var runFiles = new RunFiles(home);
        if (runFiles.LivePid() is { } running)
        {
            await context.Error.WriteLineAsync($"error: oubliette is already running for {home.Root} (pid {running}); stop it with 'oubliette stop'");
            return CliApp.Failure;
        }

        home.EnsureDataDirectories();
        using var child = Process.Start(BuildStartInfo())
            ?? throw new InvalidOperationException("the daemon process could not be started");

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(StartTimeout);
        try
        {
            // The child signals nothing we could await: its address file and /health are the readiness signal.
            while (!child.HasExited)
            {
                if (runFiles.ReadAddress() is { } address && runFiles.LivePid() == child.Id && await IsHealthyAsync(http, address, deadline.Token))
                {
                    await context.Out.WriteLineAsync($"oubliette started: {address.GetLeftPart(UriPartial.Authority)} (pid {child.Id}); logs in {home.LogsDirectory}");
                    return CliApp.Success;
                }

                await Task.Delay(ProbeInterval, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await context.Error.WriteLineAsync($"error: oubliette did not answer /health within {StartTimeout.TotalSeconds:0} s (pid {child.Id}); see {home.DaemonLog} and {home.LogsDirectory}");
            return CliApp.Failure;
        }

        await context.Error.WriteLineAsync($"error: oubliette exited during start-up (exit code {child.ExitCode}); see {home.DaemonLog}");
        return CliApp.Failure;
    }

    private ProcessStartInfo BuildStartInfo()
    {
        var executable = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell which executable to start");
        // exec keeps the pid; setsid detaches from the terminal's session so its Ctrl-C and hang-up do not reach the daemon;
        // the redirections make sure the daemon holds none of this process's streams open.
        var startInfo = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            WorkingDirectory = home.Root,
        };
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add("exec setsid \"$0\" \"$@\" </dev/null >>\"$OUBLIETTE_DAEMON_LOG\" 2>&1");
        startInfo.ArgumentList.Add(executable);
        if (Path.GetFileNameWithoutExtension(executable) == "dotnet")
        {
            startInfo.ArgumentList.Add(typeof(DaemonLauncher).Assembly.Location);
        }

        startInfo.ArgumentList.Add("--dir");
        startInfo.ArgumentList.Add(home.Root);
        startInfo.Environment[ServeCommand.DaemonChildVariable] = "1";
        startInfo.Environment["OUBLIETTE_DAEMON_LOG"] = home.DaemonLog;
        return startInfo;
    }

    private static async Task<bool> IsHealthyAsync(HttpClient http, Uri address, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(address, "/health"), cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }
}
