using System.Text.Json;

namespace Oubliette.Testing;

/// <summary>One scripted model answer.</summary>
public sealed record ScriptStep
{
    public string? Text { get; init; }
    public IReadOnlyList<string>? Chunks { get; init; }
    public TimeSpan? ChunkDelay { get; init; }
    public string? ToolName { get; init; }
    public string ToolArguments { get; init; } = "{}";
    public int? FailStatus { get; init; }
    public bool Hang { get; init; }
    public int InputTokens { get; init; }
    public int OutputTokens { get; init; }

    /// <summary>A step decided when the request arrives (e.g. to pass on an id a tool returned earlier).</summary>
    public Func<RecordedRequest, ScriptStep>? Decide { get; init; }

    /// <summary>Called as the model starts to answer with this step: the common start a benchmark measures readers from.</summary>
    public Action? Answering { get; init; }

    public static ScriptStep Reply(string text, int inputTokens = 0, int outputTokens = 0) =>
        new() { Text = text, InputTokens = inputTokens, OutputTokens = outputTokens };

    public static ScriptStep Stream(IReadOnlyList<string> chunks, TimeSpan? delay = null, int inputTokens = 0, int outputTokens = 0) =>
        new() { Chunks = chunks, ChunkDelay = delay, InputTokens = inputTokens, OutputTokens = outputTokens };

    public static ScriptStep CallTool(string tool, object arguments, int inputTokens = 0, int outputTokens = 0) =>
        new() { ToolName = tool, ToolArguments = JsonSerializer.Serialize(arguments), InputTokens = inputTokens, OutputTokens = outputTokens };

    public static ScriptStep Fail(int status, string message = "scripted failure") => new() { FailStatus = status, Text = message };

    public static ScriptStep HangForever() => new() { Hang = true };

    public static ScriptStep From(Func<RecordedRequest, ScriptStep> decide) => new() { Decide = decide };
}
