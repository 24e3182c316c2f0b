using System.Diagnostics;
using Oubliette.Errors;

namespace Oubliette.Operations;

/// <summary>Runs a host program (debootstrap, npm, git, tar), streaming its output lines to a progress sink.</summary>
public static class ProcessRunner
{
    public static async Task RunAsync(
        string program,
        IEnumerable<string> arguments,
        IProgress<string> progress,
        CancellationToken cancellationToken,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var startInfo = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[key] = value;
        }

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"could not start {program}");
        var tail = new Queue<string>();
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            progress.Report(line);
            lock (tail)
            {
                tail.Enqueue(line);
                if (tail.Count > 20)
                {
                    tail.Dequeue();
                }
            }
        }

        var stdout = PumpAsync(process.StandardOutput, OnLine);
        var stderr = PumpAsync(process.StandardError, OnLine);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        await Task.WhenAll(stdout, stderr);
        if (process.ExitCode != 0)
        {
            throw new ExternalFailureException(
                $"{program} exited with code {process.ExitCode}:{Environment.NewLine}{string.Join(Environment.NewLine, tail)}");
        }
    }

    private static async Task PumpAsync(StreamReader reader, Action<string?> onLine)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            onLine(line);
        }
    }
}
