namespace Oubliette.Agents;

/// <summary>
/// Per-prompt agent settings: the model variant that carries the reasoning effort, and tools switched off for this turn
/// (autonomy can only tighten what the container's agent config allows).
/// </summary>
public sealed record PromptOptions(string? Variant, IReadOnlyDictionary<string, bool>? DisabledTools)
{
    public static readonly PromptOptions Default = new(null, null);

    /// <summary>Reasoning <c>off</c> sends no variant; <c>low|medium|high</c> are sent as the variant of that name.</summary>
    public static PromptOptions From(string autonomy, string reasoning) => new(
        reasoning == "off" ? null : reasoning,
        autonomy switch
        {
            "low" => new Dictionary<string, bool> { ["webfetch"] = false },
            "medium" => new Dictionary<string, bool> { ["webfetch"] = false, ["bash"] = false },
            "high" => new Dictionary<string, bool> { ["webfetch"] = false, ["bash"] = false, ["edit"] = false, ["write"] = false, ["patch"] = false },
            _ => null,
        });
}
