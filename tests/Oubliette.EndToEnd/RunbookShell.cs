using System.Diagnostics;
using System.Text;

namespace Oubliette.EndToEnd;

/// <summary>
/// An operator's shell for the runbook test: one <c>bash</c> that is process 1 of a pid namespace of its own
/// (<c>unshare --pid --fork --mount-proc</c>), fed one command at a time on its standard input. Inside it,
/// <c>pgrep -f oubliette</c> sees only the server this shell started (never the test runner, other tests' servers or
/// agent containers), so the runbook's <c>kill -TERM $(pgrep -f oubliette)</c> runs as written; bash, as process 1,
/// reaps the daemon when it exits. Disposing kills the namespace and everything left in it.
/// </summary>
public sealed class RunbookShell : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _scratch;
    private int _step;

    private RunbookShell(Process process, string scratch)
    {
        _process = process;
        _scratch = scratch;
    }

    /// <summary>Every command and its output so far, for a failure message.</summary>
    public StringBuilder Transcript { get; } = new();

    /// <summary>Starts the shell with exactly <paramref name="environment"/> (nothing of the test runner's own).</summary>
    public static RunbookShell Start(IReadOnlyDictionary<string, string> environment, string scratch)
    {
        var startInfo = new ProcessStartInfo("unshare", ["--pid", "--fork", "--mount-proc", "--kill-child", "bash", "--norc", "--noprofile", "-s"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.Environment.Clear();
        foreach (var (name, value) in environment)
        {
            startInfo.Environment[name] = value;
        }

        var process = Process.Start(startInfo) ?? throw new InvalidOperationException("could not start unshare");
        return new RunbookShell(process, scratch);
    }

    /// <summary>
    /// Runs <paramref name="command"/> (bash syntax, as the runbook writes it) in <paramref name="directory"/>, in a
    /// subshell with no standard input, and returns its exit code, its standard output and its standard error.
    /// </summary>
    public async Task<StepResult> RunAsync(string command, string directory, TimeSpan? timeout = null)
    {
        var step = ++_step;
        var outputFile = Path.Combine(_scratch, $"step-{step}.out");
        var errorFile = Path.Combine(_scratch, $"step-{step}.err");
        var marker = $"__runbook_step {step} ";
        await _process.StandardInput.WriteLineAsync($"(cd '{directory}' || exit 97; {command}) </dev/null >'{outputFile}' 2>'{errorFile}'; echo \"{marker}$?\"");
        await _process.StandardInput.FlushAsync();
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(120));
        while (true)
        {
            string? line;
            try
            {
                line = await _process.StandardOutput.ReadLineAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"runbook step '{command}' did not finish in time; output so far:\n{Read(outputFile)}{Read(errorFile)}\n--- transcript\n{Transcript}");
            }

            if (line is null)
            {
                throw new InvalidOperationException($"the runbook shell ended during '{command}': {await _process.StandardError.ReadToEndAsync()}\n--- transcript\n{Transcript}");
            }

            if (line.StartsWith(marker, StringComparison.Ordinal))
            {
                var result = new StepResult(int.Parse(line[marker.Length..], System.Globalization.CultureInfo.InvariantCulture), Read(outputFile), Read(errorFile));
                Transcript.Append("$ ").Append(command).Append("   (in ").Append(directory).Append(", exit ").Append(result.ExitCode).AppendLine(")")
                    .AppendLine(result.Output).Append(result.Error.Length > 0 ? $"(stderr)\n{result.Error}\n" : "");
                return result;
            }
        }
    }

    /// <summary>Runs a command that must succeed, and returns its standard output.</summary>
    public async Task<string> RunOkAsync(string command, string directory, TimeSpan? timeout = null) =>
        (await RunResultOkAsync(command, directory, timeout)).Output;

    /// <summary>Runs a command that must succeed.</summary>
    public async Task<StepResult> RunResultOkAsync(string command, string directory, TimeSpan? timeout = null)
    {
        var result = await RunAsync(command, directory, timeout);
        Assert.True(result.ExitCode == 0, $"'{command}' exited with {result.ExitCode}:\n{result.Output}{result.Error}\n--- transcript\n{Transcript}");
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or InvalidOperationException)
        {
            // Killing process 1 of the namespace kills every process in it.
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private static string Read(string path) => File.Exists(path) ? File.ReadAllText(path) : "";
}

/// <summary>What one runbook command did.</summary>
public sealed record StepResult(int ExitCode, string Output, string Error);
