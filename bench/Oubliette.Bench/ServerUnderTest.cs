using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Oubliette.Testing;

namespace Oubliette.Bench;

/// <summary>The built oubliette executable in a fresh home, running as its own process.</summary>
internal sealed partial class ServerUnderTest : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _root;

    private ServerUnderTest(Process process, string root, Uri address, string adminSecret)
    {
        _process = process;
        _root = root;
        Address = address;
        AdminSecret = adminSecret;
    }

    public Uri Address { get; }
    public Uri McpEndpoint => new(Address, "/mcp");
    public string AdminSecret { get; }
    public int Pid => _process.Id;

    public string Root => _root;

    /// <summary>A project's agent socket folder (root-owned, mounted at <c>/run/agent-socket</c> in its container), as the server lays out its home.</summary>
    public string ProjectAgentSocketDirectory(Guid projectId) => Path.Combine(_root, "data", "projects", projectId.ToString("D"), "agent-socket");

    /// <summary>Starts the built server in a fresh home; <paramref name="configure"/> may rewrite the init config.</summary>
    public static async Task<ServerUnderTest> StartAsync(Func<string, string>? configure = null)
    {
        var root = Path.Combine(Path.GetTempPath(), "oubliette-bench-" + Guid.NewGuid().ToString("N")[..8]);
        var init = await OublietteProcess.RunAsync(["init", "--dir", root]);
        var secret = Secret().Match(init.Output).Value;
        var configFile = Path.Combine(root, "config", "oubliette.jsonc");
        // Default config, except a free port and a rate limit high enough not to be what is measured.
        var config = (await File.ReadAllTextAsync(configFile))
            .Replace("127.0.0.1:8080", "127.0.0.1:0", StringComparison.Ordinal)
            .Replace("\"requests_per_second\": 20", "\"requests_per_second\": 1000000", StringComparison.Ordinal)
            .Replace("\"burst\": 40", "\"burst\": 1000000", StringComparison.Ordinal)
            .Replace("\"level\": \"information\"", Environment.GetEnvironmentVariable("BENCH_LOG_LEVEL") is { } level ? $"\"level\": \"{level}\"" : "\"level\": \"information\"", StringComparison.Ordinal);
        await File.WriteAllTextAsync(configFile, configure is null ? config : configure(config));

        var process = OublietteProcess.Start(["--dir", root]);
        _ = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        var addressFile = Path.Combine(root, "data", "run", "oubliette.address");
        var deadline = Stopwatch.StartNew();
        while (!File.Exists(addressFile) && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(50);
        }

        if (!File.Exists(addressFile))
        {
            throw new InvalidOperationException($"the server did not start: {(process.HasExited ? await errors : "(still starting after 30 s)")}");
        }

        var address = new Uri((await File.ReadAllTextAsync(addressFile)).Trim());
        return new ServerUnderTest(process, root, address, secret);
    }

    public double ResidentMegabytes()
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").First(candidate => candidate.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(Digits().Match(line).Value, CultureInfo.InvariantCulture) / 1024.0;
    }

    /// <summary>User plus system CPU time of the server process so far.</summary>
    public double CpuSeconds() => CpuSecondsOf(_process.Id);

    /// <summary>User plus system CPU time of any process so far.</summary>
    public static double CpuSecondsOf(int pid)
    {
        var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // After the command name: field 12 is utime, 13 stime (0-based in this slice), in clock ticks of 1/100 s.
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    public async ValueTask DisposeAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    [GeneratedRegex("oub_[0-9a-f]{64}")]
    private static partial Regex Secret();

    [GeneratedRegex("[0-9]+")]
    private static partial Regex Digits();
}
