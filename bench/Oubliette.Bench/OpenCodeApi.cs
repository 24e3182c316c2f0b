using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Oubliette.Agents.OpenCode;

namespace Oubliette.Bench;

/// <summary>The few calls of OpenCode's server API the bench makes itself, wherever that OpenCode runs.</summary>
internal static class OpenCodeApi
{
    /// <summary>A new session in <paramref name="directory"/>, prompted on the scripted model's provider and model.</summary>
    public static async Task<string> PromptNewSessionAsync(HttpClient http, string directory, string text)
    {
        var escaped = Uri.EscapeDataString(directory);
        using var created = await http.PostAsJsonAsync($"session?directory={escaped}", new JsonObject());
        created.EnsureSuccessStatusCode();
        var session = (await created.Content.ReadFromJsonAsync<JsonObject>())?["id"]?.GetValue<string>()
            ?? throw new InvalidOperationException("OpenCode created a session without an id");
        using var prompted = await http.PostAsJsonAsync($"session/{session}/prompt_async?directory={escaped}", new JsonObject
        {
            ["parts"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = text }),
            ["model"] = new JsonObject { ["providerID"] = "scripted", ["modelID"] = "scripted" },
        });
        prompted.EnsureSuccessStatusCode();
        return session;
    }

    /// <summary>Probes until OpenCode answers, failing after <paramref name="limit"/>.</summary>
    public static async Task WaitHealthyAsync(HttpClient http, TimeSpan limit, Func<string> whyNot)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!await OpenCodeRuntime.IsHealthyAsync(http, CancellationToken.None))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"OpenCode did not answer within {limit.TotalSeconds:0} s: {whyNot()}");
            }

            await Task.Delay(25);
        }
    }
}
