using Oubliette.Bench;

// Prints figures; asserts nothing. Run: dotnet run -c Release --project bench/Oubliette.Bench [-- --seconds 5]
if (args.Contains(BareMcpServer.Argument))
{
    await BareMcpServer.ServeAsync();
    return;
}

var seconds = args.Length >= 2 && args[0] == "--seconds" ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5;
if (args.Contains("--sessions-only"))
{
    await SessionBench.RunAsync();
    return;
}

if (args.Contains("--schedules-only"))
{
    await ScheduleBench.RunAsync(runs: 20);
    return;
}

if (args.Contains("--children-only"))
{
    await SessionBench.RunChildrenAsync(rounds: 10);
    return;
}

if (args.Contains("--events-only"))
{
    await SessionBench.RunEventsAsync(rounds: int.TryParse(Environment.GetEnvironmentVariable("BENCH_ROUNDS"), out var rounds) ? rounds : 9);
    return;
}

if (args.Contains("--mcp-only"))
{
    EventPageSize.Print();
    Console.WriteLine();
    await using var only = await ServerUnderTest.StartAsync();
    await CompareWithBareAsync(only, seconds);
    return;
}

EventPageSize.Print();
Console.WriteLine();

await using var server = await ServerUnderTest.StartAsync();
Console.WriteLine($"oubliette {server.Address} pid {server.Pid}; {Environment.ProcessorCount} cores");

await Task.Delay(TimeSpan.FromSeconds(3));
Console.WriteLine($"idle RSS after start: {server.ResidentMegabytes():0.0} MB");

Console.WriteLine();
Console.WriteLine("MCP tool calls (project options, authenticated, stateful Streamable HTTP, separate client process)");
Console.WriteLine($"{"clients",8} {"calls/s",10} {"p50 ms",8} {"p99 ms",8} {"calls",8} {"errors",7}");
foreach (var clients in new[] { 1, 8, 32 })
{
    var result = await McpLoad.RunAsync(server, clients, TimeSpan.FromSeconds(seconds));
    Console.WriteLine($"{clients,8} {result.CallsPerSecond,10:0} {result.P50Milliseconds,8:0.00} {result.P99Milliseconds,8:0.00} {result.Calls,8} {result.Errors,7}");
}

Console.WriteLine();
await CompareWithBareAsync(server, seconds);

Console.WriteLine();
var (projectMedian, dockerRunMedian) = await ProjectStartup.RunAsync(server, rounds: 10);
Console.WriteLine("project create -> container ready (exec answers), median of 10, base image");
Console.WriteLine($"  oubliette: {projectMedian:0} ms   docker run --rm <image> true: {dockerRunMedian:0} ms   ratio {projectMedian / dockerRunMedian:0.00}x");

await Task.Delay(TimeSpan.FromSeconds(3));
Console.WriteLine();
Console.WriteLine($"idle RSS after load: {server.ResidentMegabytes():0.0} MB");

Console.WriteLine();
Console.WriteLine("agent sessions (real OpenCode in a container, scripted model)");
await SessionBench.RunAsync();

// Oubliette (own process, authenticated) beside a bare ModelContextProtocol.AspNetCore server with one trivial tool (own
// process too), alternating three times so that a change in the machine's load hits both alike.
static async Task CompareWithBareAsync(ServerUnderTest server, int seconds)
{
    await using var bare = await BareMcpServer.StartAsync();
    Console.WriteLine("32 connections, stateful Streamable HTTP on loopback, each server in its own process with oubliette's runtime settings:");
    Console.WriteLine("  oubliette: project {\"action\":\"options\"}, bearer token checked per request, rate limiter, access log, metrics");
    Console.WriteLine("  bare:      ModelContextProtocol.AspNetCore with one tool echo {\"action\"} returning a string, no authentication, nothing else");
    Console.WriteLine($"{"round",6} {"oubliette/s",12} {"cpu ms/call",12} {"bare/s",8} {"cpu ms/call",12} {"ratio",6}");
    var ratios = new List<double>();
    for (var round = 1; round <= 3; round++)
    {
        var ours = await McpLoad.RunAsync(server, 32, TimeSpan.FromSeconds(seconds));
        var theirs = await McpLoad.RunAsync(bare.McpEndpoint, "unused", "echo", 32, TimeSpan.FromSeconds(seconds), bare.CpuSeconds);
        var ratio = ours.CallsPerSecond / theirs.CallsPerSecond;
        ratios.Add(ratio);
        var errors = ours.Errors + theirs.Errors > 0 ? $"  errors: oubliette {ours.Errors}, bare {theirs.Errors}" : "";
        Console.WriteLine($"{round,6} {ours.CallsPerSecond,12:0} {ours.ServerCpuMillisecondsPerCall,12:0.000} {theirs.CallsPerSecond,8:0} {theirs.ServerCpuMillisecondsPerCall,12:0.000} {ratio,5:0.00}x{errors}");
    }

    Console.WriteLine($"  authenticated tool calls/s vs bare MCP server: median ratio {ratios.Order().ElementAt(1):0.00}x (target >= 0.8x)");
}
