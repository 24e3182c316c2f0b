namespace Oubliette.Configuration;

/// <summary>US dollars per million input and output tokens, used by the gateway to price real usage (0 when unknown).</summary>
public sealed record ModelCost(double Input, double Output)
{
    public double Of(long inputTokens, long outputTokens) => ((inputTokens * Input) + (outputTokens * Output)) / 1_000_000;
}
