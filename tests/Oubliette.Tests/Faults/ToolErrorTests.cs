using System.Text.Json;
using Oubliette.Mcp;

namespace Oubliette.Tests.Faults;

public sealed class ToolErrorTests
{
    [Fact]
    public void Unexpected_failure_is_described_by_tool_and_action_in_plain_words()
    {
        var arguments = new Dictionary<string, JsonElement> { ["action"] = JsonSerializer.SerializeToElement("spawn") };

        Assert.Equal("session spawn", McpServerSetup.Describe("session", arguments));
        Assert.Equal("session", McpServerSetup.Describe("session", new Dictionary<string, JsonElement> { ["action"] = JsonSerializer.SerializeToElement("x y\nz") }));
        Assert.Equal("no space left on device", McpServerSetup.PlainReason(new IOException("no space left on device")));
        Assert.Equal("an operation timed out", McpServerSetup.PlainReason(new TaskCanceledException()));
        Assert.Equal("first line", McpServerSetup.PlainReason(new InvalidOperationException("first line\n   at Some.Type.Method()")));
        Assert.DoesNotContain("Exception", McpServerSetup.PlainReason(new AggregateException(new NullReferenceException())), StringComparison.Ordinal);
    }
}
