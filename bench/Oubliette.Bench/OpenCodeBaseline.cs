using System.Diagnostics;
using Oubliette.Testing;

namespace Oubliette.Bench;

/// <summary>
/// OpenCode's own cold start on this machine, without Oubliette or Docker: the pinned binary started on the host, asked
/// for one session and one prompt against the scripted model; time to its first text event. Measured on its second start
/// in the same home, as a stopped container restarts with its home kept.
/// </summary>
internal static class OpenCodeBaseline
{
    public static async Task<double> ColdFirstEventAsync(ScriptedModelServer model)
    {
        using var openCode = await HostOpenCode.InstallAsync(model);
        // The first start in a fresh home also initializes OpenCode's own state; a restart is what a stopped container sees.
        await MeasureAsync(openCode, model);
        return await MeasureAsync(openCode, model);
    }

    private static async Task<double> MeasureAsync(HostOpenCode openCode, ScriptedModelServer model)
    {
        model.Enqueue(ScriptStep.Reply("ok"));
        var clock = Stopwatch.StartNew();
        await using var running = await openCode.StartAsync();
        using var events = await running.Http.GetAsync("global/event", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await events.Content.ReadAsStreamAsync());
        await running.PromptNewSessionAsync("reply ok");
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Contains("\"message.part.delta\"", StringComparison.Ordinal)
                || (line.Contains("\"message.part.updated\"", StringComparison.Ordinal) && line.Contains("\"type\":\"text\",\"text\":\"ok\"", StringComparison.Ordinal)))
            {
                return clock.Elapsed.TotalMilliseconds;
            }
        }

        throw new InvalidOperationException("OpenCode's event stream ended before its first text event");
    }
}
