using System.Diagnostics;
using System.Text;

namespace Oubliette.Testing;

/// <summary>Runs the built <c>oubliette</c> executable as its own process, the way an operator does.</summary>
public static class OublietteProcess
{
    /// <summary>The apphost built next to the test assembly (the project reference copies it).</summary>
    public static string ExecutablePath
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "oubliette");
            return File.Exists(path) ? path : throw new FileNotFoundException($"the oubliette executable was not built next to the tests at {path}");
        }
    }

    public static async Task<CommandResult> RunAsync(IEnumerable<string> arguments, TimeSpan? timeout = null, IDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        using var process = Start(arguments, environment, workingDirectory);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"oubliette {string.Join(' ', arguments)} did not exit in time; output so far: {await output}{await error}");
        }

        return new CommandResult(process.ExitCode, await output, await error);
    }

    public static Process Start(IEnumerable<string> arguments, IDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var startInfo = new ProcessStartInfo(ExecutablePath)
        {
            WorkingDirectory = workingDirectory ?? "",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.Environment.Remove("OUBLIETTE_HOME");
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[key] = value;
        }

        return Process.Start(startInfo) ?? throw new InvalidOperationException("could not start oubliette");
    }
}
