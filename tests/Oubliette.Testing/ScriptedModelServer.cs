using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Oubliette.Testing;

/// <summary>
/// The one stand-in of the suite: a model provider on loopback speaking the OpenAI-compatible chat-completions
/// streaming protocol (and Anthropic's Messages streaming protocol at <c>/v1/messages</c>), driven by a script of steps (reply, call a tool, fail, hang, stream slowly). It records every
/// request, headers included. OpenCode's title requests are answered without consuming the script.
/// </summary>
public sealed class ScriptedModelServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ScriptStep> _script = new();
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly ConcurrentQueue<(string Method, string Path, string? Authorization)> _otherRequests = new();
    private readonly ConcurrentQueue<(string Marker, IReadOnlyList<ScriptStep> Steps)> _conversations = new();
    private readonly CancellationTokenSource _stopping = new();

    private ScriptedModelServer(WebApplication app, Uri address)
    {
        _app = app;
        BaseUrl = new Uri(address, "/v1");
    }

    public Uri BaseUrl { get; }

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    /// <summary>Requests to anything but the two model routes (answered 404), with the credential they carried.</summary>
    public IReadOnlyList<(string Method, string Path, string? Authorization)> OtherRequests => [.. _otherRequests];

    /// <summary>Requests that belong to the agent's work (not OpenCode's own title generation).</summary>
    public IReadOnlyList<RecordedRequest> AgentRequests => [.. _requests.Where(request => !request.IsTitleRequest)];

    public static async Task<ScriptedModelServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        ScriptedModelServer? server = null;
        app.MapPost("/v1/chat/completions", (HttpContext context) => server!.HandleAsync(context, anthropic: false));
        app.MapPost("/v1/messages", (HttpContext context) => server!.HandleAsync(context, anthropic: true));
        app.MapFallback((HttpContext context) =>
        {
            server!._otherRequests.Enqueue((context.Request.Method, context.Request.Path + context.Request.QueryString, context.Request.Headers.Authorization.ToString()));
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new ScriptedModelServer(app, new Uri(address));
        return server;
    }

    public void Enqueue(params ScriptStep[] steps)
    {
        foreach (var step in steps)
        {
            _script.Enqueue(step);
        }
    }

    /// <summary>
    /// A script for every conversation whose first user message contains <paramref name="marker"/>, however many run at
    /// once: step N answers the conversation's N-th model call (counted by the assistant turns it already has). Takes
    /// precedence over the shared queue.
    /// </summary>
    public void Conversation(string marker, params ScriptStep[] steps) => _conversations.Enqueue((marker, steps));

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _stopping.Dispose();
    }

    private async Task HandleAsync(HttpContext context, bool anthropic)
    {
        var body = await JsonSerializer.DeserializeAsync<JsonElement>(context.Request.Body);
        var headers = context.Request.Headers.ToDictionary(header => header.Key.ToLowerInvariant(), header => header.Value.ToString());
        var isTitle = body.GetRawText().Contains("title generator", StringComparison.OrdinalIgnoreCase);
        var recorded = new RecordedRequest(context.Request.Path, headers, body.Clone(), isTitle);
        _requests.Enqueue(recorded);
        var step = isTitle ? ScriptStep.Reply("Scripted session") : ConversationStep(recorded) ?? (_script.TryDequeue(out var next) ? next : ScriptStep.Reply("(the script has no more steps)"));
        while (step.Decide is { } decide)
        {
            step = decide(recorded);
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        step.Answering?.Invoke();
        try
        {
            await (anthropic ? RespondAnthropicAsync(context, step, linked.Token) : RespondAsync(context, step, linked.Token));
        }
        catch (OperationCanceledException)
        {
            // The client went away (an aborted turn) or the server stops.
        }
    }

    private ScriptStep? ConversationStep(RecordedRequest request)
    {
        var first = request.FirstUserMessage;
        foreach (var (marker, steps) in _conversations)
        {
            if (first.Contains(marker, StringComparison.Ordinal))
            {
                var turn = request.AssistantTurns;
                return turn < steps.Count ? steps[turn] : ScriptStep.Reply("(the conversation's script has no more steps)");
            }
        }

        return null;
    }

    /// <summary>Anthropic's Messages streaming protocol: message_start, content blocks, message_delta with usage.</summary>
    private static async Task RespondAnthropicAsync(HttpContext context, ScriptStep step, CancellationToken cancellationToken)
    {
        if (step.FailStatus is { } status)
        {
            context.Response.StatusCode = status;
            await context.Response.WriteAsJsonAsync(new { type = "error", error = new { type = "api_error", message = step.Text ?? "scripted failure" } }, cancellationToken);
            return;
        }

        context.Response.ContentType = "text/event-stream";
        async Task SendAsync(string name, JsonObject data)
        {
            data["type"] = name;
            await context.Response.WriteAsync($"event: {name}\ndata: {data.ToJsonString()}\n\n", cancellationToken);
            await context.Response.Body.FlushAsync(cancellationToken);
        }

        await SendAsync("message_start", new JsonObject
        {
            ["message"] = new JsonObject
            {
                ["id"] = "msg_" + Guid.NewGuid().ToString("N")[..12],
                ["type"] = "message",
                ["role"] = "assistant",
                ["model"] = "scripted",
                ["content"] = new JsonArray(),
                ["stop_reason"] = null,
                ["stop_sequence"] = null,
                ["usage"] = new JsonObject { ["input_tokens"] = step.InputTokens, ["output_tokens"] = 0 },
            },
        });
        if (step.Hang)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        string stopReason;
        if (step.ToolName is { } tool)
        {
            await SendAsync("content_block_start", new JsonObject
            {
                ["index"] = 0,
                ["content_block"] = new JsonObject { ["type"] = "tool_use", ["id"] = "toolu_" + Guid.NewGuid().ToString("N")[..8], ["name"] = tool, ["input"] = new JsonObject() },
            });
            await SendAsync("content_block_delta", new JsonObject { ["index"] = 0, ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = step.ToolArguments } });
            stopReason = "tool_use";
        }
        else
        {
            await SendAsync("content_block_start", new JsonObject { ["index"] = 0, ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" } });
            foreach (var piece in step.Chunks ?? [step.Text ?? ""])
            {
                await SendAsync("content_block_delta", new JsonObject { ["index"] = 0, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = piece } });
                if (step.ChunkDelay is { } delay)
                {
                    await Task.Delay(delay, cancellationToken);
                }
            }

            stopReason = "end_turn";
        }

        await SendAsync("content_block_stop", new JsonObject { ["index"] = 0 });
        await SendAsync("message_delta", new JsonObject
        {
            ["delta"] = new JsonObject { ["stop_reason"] = stopReason, ["stop_sequence"] = null },
            ["usage"] = new JsonObject { ["output_tokens"] = step.OutputTokens },
        });
        await SendAsync("message_stop", new JsonObject());
    }

    private static async Task RespondAsync(HttpContext context, ScriptStep step, CancellationToken cancellationToken)
    {
        if (step.FailStatus is { } status)
        {
            context.Response.StatusCode = status;
            await context.Response.WriteAsJsonAsync(new { error = new { message = step.Text ?? "scripted failure", type = "server_error" } }, cancellationToken);
            return;
        }

        context.Response.ContentType = "text/event-stream";
        var id = "chatcmpl-" + Guid.NewGuid().ToString("N")[..12];
        async Task SendAsync(JsonObject chunk)
        {
            chunk["id"] = id;
            chunk["object"] = "chat.completion.chunk";
            chunk["created"] = 1;
            chunk["model"] = "scripted";
            await context.Response.WriteAsync($"data: {chunk.ToJsonString()}\n\n", cancellationToken);
            await context.Response.Body.FlushAsync(cancellationToken);
        }

        JsonObject Choice(JsonObject delta, string? finish) => new()
        {
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish }),
        };

        if (step.Hang)
        {
            await SendAsync(Choice(new JsonObject { ["role"] = "assistant", ["content"] = "thinking" }, null));
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        if (step.ToolName is { } tool)
        {
            await SendAsync(Choice(new JsonObject
            {
                ["role"] = "assistant",
                ["tool_calls"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0,
                    ["id"] = "call_" + Guid.NewGuid().ToString("N")[..8],
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = tool, ["arguments"] = step.ToolArguments },
                }),
            }, null));
            await SendAsync(Choice(new JsonObject(), "tool_calls"));
        }
        else
        {
            var pieces = step.Chunks ?? [step.Text ?? ""];
            var first = true;
            foreach (var piece in pieces)
            {
                var delta = new JsonObject { ["content"] = piece };
                if (first)
                {
                    delta["role"] = "assistant";
                    first = false;
                }

                await SendAsync(Choice(delta, null));
                if (step.ChunkDelay is { } delay)
                {
                    await Task.Delay(delay, cancellationToken);
                }
            }

            await SendAsync(Choice(new JsonObject(), "stop"));
        }

        if (step.InputTokens > 0 || step.OutputTokens > 0)
        {
            await SendAsync(new JsonObject
            {
                ["choices"] = new JsonArray(),
                ["usage"] = new JsonObject { ["prompt_tokens"] = step.InputTokens, ["completion_tokens"] = step.OutputTokens, ["total_tokens"] = step.InputTokens + step.OutputTokens },
            });
        }

        await context.Response.WriteAsync("data: [DONE]\n\n", cancellationToken);
    }
}
