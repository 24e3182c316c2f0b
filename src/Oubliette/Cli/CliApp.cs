using System.CommandLine;
using Microsoft.Data.Sqlite;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Operations;

namespace Oubliette.Cli;

/// <summary>The <c>oubliette</c> command line: builds the verbs, runs one, maps failures to exit codes 1 and 2.</summary>
public static class CliApp
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int UsageError = 2;

    // Longer than the server's longest drain, so SIGTERM cancels the verb and lets it finish instead of killing it.
    private static readonly TimeSpan ProcessTerminationTimeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string[] args)
    {
        // Everything the server writes (databases, logs, run files, backups) is the owner's alone.
        NativeMethods.SetUmask(Convert.ToUInt32("077", 8));
        return await RunAsync(args, new CliContext(Console.Out, Console.Error, TimeProvider.System));
    }

    /// <summary>Runs one command line on a given context (tests pass their streams and environment).</summary>
    internal static async Task<int> RunAsync(string[] args, CliContext context)
    {
        if (IsVersionRequest(args))
        {
            await context.Out.WriteLineAsync(BuildVersion.Current);
            return Success;
        }

        var root = Build(context);
        var parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            foreach (var parseError in parseResult.Errors)
            {
                await context.Error.WriteLineAsync($"error: {parseError.Message}");
            }

            await context.Error.WriteLineAsync("see 'oubliette --help'");
            return UsageError;
        }

        try
        {
            return await parseResult.InvokeAsync(new InvocationConfiguration
            {
                ProcessTerminationTimeout = ProcessTerminationTimeout,
                Output = context.Out,
                Error = context.Error,
                EnableDefaultExceptionHandler = false,
            });
        }
        catch (ConfigException exception)
        {
            await context.Error.WriteLineAsync($"error: {exception.Message}");
            return Failure;
        }
        catch (InvalidArgumentException exception)
        {
            await context.Error.WriteLineAsync($"error: {exception.Message}");
            return UsageError;
        }
        catch (OublietteException exception)
        {
            await context.Error.WriteLineAsync($"error: {exception.Message}");
            return Failure;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or SqliteException)
        {
            await context.Error.WriteLineAsync($"error: {exception.Message}");
            return Failure;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // Unexpected: reported in full (type, message, stack) so that it can be fixed, with the failure exit code.
            await context.Error.WriteLineAsync($"error: unexpected {exception}");
            return Failure;
        }
    }

    /// <summary>
    /// <c>--version</c> alone or beside <c>--dir</c> (which <c>./run.sh</c> always adds): System.CommandLine refuses the
    /// version option next to any other argument, but the home changes nothing about which build this is.
    /// </summary>
    internal static bool IsVersionRequest(IReadOnlyList<string> args)
    {
        var rest = new List<string>();
        for (var index = 0; index < args.Count; index++)
        {
            if (args[index] == "--dir" && index + 1 < args.Count)
            {
                index++;
            }
            else if (!args[index].StartsWith("--dir=", StringComparison.Ordinal))
            {
                rest.Add(args[index]);
            }
        }

        return rest is ["--version"];
    }

    internal static RootCommand Build(CliContext context)
    {
        var root = new RootCommand("Oubliette: a self-hosted MCP server that runs autonomous coding agents in Docker containers.");
        root.Options.Add(context.DirOption);
        new ServeCommand(context).AttachTo(root);
        root.Subcommands.Add(new InitCommand(context).Command);
        root.Subcommands.Add(new StopCommand(context).Command);
        root.Subcommands.Add(new StatusCommand(context).Command);
        var token = new Command("token", "Create, list and revoke access tokens.");
        token.Subcommands.Add(new TokenCreateCommand(context).Command);
        token.Subcommands.Add(new TokenListCommand(context).Command);
        token.Subcommands.Add(new TokenRevokeCommand(context).Command);
        root.Subcommands.Add(token);
        var image = new Command("image", "Agent images.");
        image.Subcommands.Add(new ImageBuildCommand(context).Command);
        root.Subcommands.Add(image);
        root.Subcommands.Add(new ContainerCommand(context).Command);
        root.Subcommands.Add(new McpSetupCommand(context).Command);
        root.Subcommands.Add(new BackupCommand(context).Command);
        return root;
    }
}
