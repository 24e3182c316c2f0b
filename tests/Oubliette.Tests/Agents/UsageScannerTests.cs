using System.Text;
using Oubliette.Gateway;

namespace Oubliette.Tests.Agents;

public sealed class UsageScannerTests
{
    [Fact]
    public void OpenAI_style_usage_is_read_from_a_stream_split_anywhere()
    {
        const string stream = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"
            + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":120,\"completion_tokens\":30}}\n\ndata: [DONE]\n\n";
        var bytes = Encoding.UTF8.GetBytes(stream);
        var scanner = new UsageScanner();
        for (var offset = 0; offset < bytes.Length; offset += 7)
        {
            scanner.Feed(bytes.AsSpan(offset, Math.Min(7, bytes.Length - offset)));
        }

        scanner.Complete();

        Assert.Equal((120, 30), (scanner.InputTokens, scanner.OutputTokens));
    }

    [Fact]
    public void Anthropic_style_usage_is_read_from_message_start_and_delta()
    {
        const string stream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":55,\"output_tokens\":1}}}\n\n"
            + "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":42}}\n\n";
        var scanner = new UsageScanner();
        scanner.Feed(Encoding.UTF8.GetBytes(stream));
        scanner.Complete();

        Assert.Equal((55, 42), (scanner.InputTokens, scanner.OutputTokens));
    }

    [Fact]
    public void A_plain_json_body_is_read_whole()
    {
        var scanner = new UsageScanner();
        scanner.Feed(Encoding.UTF8.GetBytes("{\"id\":\"x\",\"usage\":{\"prompt_tokens\":9,\n\"completion_tokens\":4}}"));
        scanner.Complete();

        Assert.Equal((9, 4), (scanner.InputTokens, scanner.OutputTokens));
    }

    /// <summary>
    /// Review attack: a non-streamed answer longer than the kept megabyte (an agent asks for many choices, "n": 100)
    /// had its usage, which comes last, cut off: the provider billed every choice, the gateway metered nothing.
    /// </summary>
    [Fact]
    public void The_usage_at_the_end_of_a_non_streamed_body_longer_than_a_megabyte_is_read()
    {
        var choices = string.Join(",", Enumerable.Range(0, 100).Select(index =>
            $"{{\"index\":{index},\"message\":{{\"role\":\"assistant\",\"content\":\"{new string('x', 20_000)} \\\"usage\\\": {{}}\"}},\"finish_reason\":\"stop\"}}"));
        var body = $"{{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"choices\":[{choices}],\"usage\":{{\"prompt_tokens\":1000,\"completion_tokens\":500000,\"total_tokens\":501000}}}}";
        var bytes = Encoding.UTF8.GetBytes(body);
        var scanner = new UsageScanner();
        for (var offset = 0; offset < bytes.Length; offset += 16384)
        {
            scanner.Feed(bytes.AsSpan(offset, Math.Min(16384, bytes.Length - offset)));
        }

        scanner.Complete();

        Assert.True(bytes.Length > 1_048_576);
        Assert.Equal((1000, 500000), (scanner.InputTokens, scanner.OutputTokens));
    }
}
