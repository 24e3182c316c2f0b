using System.Diagnostics;
using ModelContextProtocol.Client;
using Oubliette.Testing;

namespace Oubliette.Bench;

/// <summary>N MCP clients, each with its own session, calling a cheap tool in a closed loop.</summary>
internal static class McpLoad
{
    public static Task<LoadResult> RunAsync(ServerUnderTest server, int clientCount, TimeSpan duration) =>
        RunAsync(server.McpEndpoint, server.AdminSecret, "project", clientCount, duration, server.CpuSeconds);

    /// <summary>
    /// The same loop against any server: <paramref name="tool"/> called with <c>{"action": "options"}</c>;
    /// <paramref name="serverCpuSeconds"/> (the server process's CPU time so far) gives the server's CPU per call.
    /// </summary>
    public static async Task<LoadResult> RunAsync(Uri endpoint, string secret, string tool, int clientCount, TimeSpan duration, Func<double>? serverCpuSeconds = null)
    {
        var clients = await Task.WhenAll(Enumerable.Range(0, clientCount).Select(_ => McpTestClient.ConnectAsync(endpoint, secret)));
        try
        {
            await RunPhaseAsync(clients, tool, TimeSpan.FromSeconds(2), record: null);
            var latencies = new List<double>[clientCount];
            var errors = new int[clientCount];
            for (var index = 0; index < clientCount; index++)
            {
                latencies[index] = new List<double>(100_000);
            }

            var cpuBefore = serverCpuSeconds?.Invoke() ?? double.NaN;
            var stopwatch = Stopwatch.StartNew();
            await RunPhaseAsync(clients, tool, duration, (client, milliseconds, failed) =>
            {
                latencies[client].Add(milliseconds);
                errors[client] += failed ? 1 : 0;
            });
            var elapsed = stopwatch.Elapsed;
            var cpuMilliseconds = ((serverCpuSeconds?.Invoke() ?? double.NaN) - cpuBefore) * 1000;
            var all = latencies.SelectMany(list => list).Order().ToArray();
            return new LoadResult(all.Length, errors.Sum(), all.Length / elapsed.TotalSeconds, Percentile(all, 0.50), Percentile(all, 0.99), cpuMilliseconds / all.Length);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    private static Task RunPhaseAsync(McpClient[] clients, string tool, TimeSpan duration, Action<int, double, bool>? record)
    {
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        return Task.WhenAll(clients.Select((client, index) => Task.Run(async () =>
        {
            var arguments = new Dictionary<string, object?> { ["action"] = "options" };
            while (Stopwatch.GetTimestamp() < until)
            {
                var started = Stopwatch.GetTimestamp();
                var result = await client.CallToolAsync(tool, arguments);
                record?.Invoke(index, Stopwatch.GetElapsedTime(started).TotalMilliseconds, result.IsError == true);
            }
        })));
    }

    private static double Percentile(double[] sorted, double fraction) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(fraction * sorted.Length) - 1)];
}
