using Oubliette.Agents;

namespace Oubliette.Tests.Agents;

public sealed class PromptOptionsTests
{
    [Theory]
    [InlineData("off", null)]
    [InlineData("low", "low")]
    [InlineData("high", "high")]
    public void Reasoning_is_sent_as_the_variant_unless_off(string reasoning, string? variant) =>
        Assert.Equal(variant, PromptOptions.From("off", reasoning).Variant);

    [Fact]
    public void Autonomy_only_ever_switches_tools_off_and_more_of_them_as_it_rises()
    {
        Assert.Null(PromptOptions.From("off", "off").DisabledTools);
        var low = PromptOptions.From("low", "off").DisabledTools!;
        var medium = PromptOptions.From("medium", "off").DisabledTools!;
        var high = PromptOptions.From("high", "off").DisabledTools!;

        Assert.All(new[] { low, medium, high }, tools => Assert.All(tools.Values, enabled => Assert.False(enabled)));
        Assert.Subset(new HashSet<string>(medium.Keys), new HashSet<string>(low.Keys));
        Assert.Subset(new HashSet<string>(high.Keys), new HashSet<string>(medium.Keys));
        Assert.Contains("bash", high.Keys);
    }
}
