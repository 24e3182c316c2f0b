using System.CommandLine;
using Oubliette.Configuration;
using Oubliette.Hosting;
using Oubliette.Operations;

namespace Oubliette.Cli;

/// <summary><c>oubliette [--daemon]</c>: run the server in the foreground, or start it in the background.</summary>
public sealed partial class ServeCommand(CliContext context)
{
    /// <summary>Set in the environment of the process a daemon start launches.</summary>
    public const string DaemonChildVariable = "OUBLIETTE_DAEMON_CHILD";

    private readonly Option<bool> _daemon = new("--daemon") { Description = "Start the server in the background (pid file data/run/oubliette.pid, logs in data/logs/)." };

    public void AttachTo(RootCommand root)
    {
        root.Options.Add(_daemon);
        root.SetAction(RunAsync);
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var home = context.RequireHome(parseResult);
        OublietteConfig config;
        try
        {
            // Validated here too for a daemon start, so that config errors print in the operator's terminal.
            config = ConfigParser.Load(home.ConfigFile);
        }
        catch (ConfigException exception)
        {
            LogStartupFailure(home, exception);
            throw;
        }

        if (parseResult.GetValue(_daemon))
        {
            return await new DaemonLauncher(context, home).StartAsync(cancellationToken);
        }

        var daemonChild = Environment.GetEnvironmentVariable(DaemonChildVariable) == "1";
        var runFiles = new RunFiles(home);
        home.EnsureDataDirectories();
        runFiles.ClaimPidFile();
        try
        {
            OublietteServer started;
            try
            {
                started = await OublietteServer.StartAsync(home, config, new ServerHostOptions { ConsoleLogging = !daemonChild, Time = context.Time }, cancellationToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                LogStartupFailure(home, exception);
                throw;
            }

            await using var server = started;
            runFiles.WriteAddress(server.Address);
            var address = server.Address.ToString().TrimEnd('/');
            // In the log file too: after an upgrade, the log is where an operator confirms which build came up, and where.
            LogStarted(server.Services.GetRequiredService<ILogger<ServeCommand>>(), BuildVersion.Current, home.Root, address, Environment.ProcessId);
            await context.Out.WriteLineAsync($"oubliette {BuildVersion.Current} listening on {address} (pid {Environment.ProcessId}, home {home.Root})");
            await server.WaitForShutdownAsync(cancellationToken);
            await context.Out.WriteLineAsync("oubliette stopped");
            return CliApp.Success;
        }
        finally
        {
            runFiles.Release();
        }
    }

    /// <summary>A start-up that failed before (or while) the server's logging existed is in data/logs/ as well as on the terminal.</summary>
    private void LogStartupFailure(OublietteHome home, Exception exception) =>
        Operations.Logging.DailyFileLoggerProvider.AppendDirect(home.LogsDirectory, context.Time, LogLevel.Critical, typeof(ServeCommand).FullName!,
            $"start-up failed: {exception.Message}");

    [LoggerMessage(Level = LogLevel.Information, Message = "oubliette {Version} started: home {Home}, listening on {Address}, pid {Pid}")]
    private static partial void LogStarted(ILogger logger, string version, string home, string address, int pid);
}
