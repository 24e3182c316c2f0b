using System.Text;
using Oubliette.Agents.OpenCode;

namespace Oubliette.Tests.Agents;

public sealed class ServerSentEventReaderTests
{
    /// <summary>Hands out a few bytes per read, so lines straddle the reader's buffers.</summary>
    private sealed class TrickleStream(byte[] content, int chunk) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => content.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var taken = Math.Min(Math.Min(count, chunk), content.Length - _position);
            Array.Copy(content, _position, buffer, offset, taken);
            _position += taken;
            return taken;
        }

        public override void Flush() => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static List<string> DataOf(string stream, int chunk)
    {
        var payloads = new List<string>();
        using var source = new TrickleStream(Encoding.UTF8.GetBytes(stream), chunk);
        ServerSentEventReader.ReadData(source, data => payloads.Add(Encoding.UTF8.GetString(data)));
        return payloads;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public void Data_lines_arrive_whole_and_in_order_however_the_bytes_are_split(int chunk)
    {
        var payloads = DataOf("event: message\ndata: {\"a\":\"é\"}\n\n: comment\ndata:{\"b\":2}\r\n\ndata: {\"c\":3}\n\n", chunk);

        Assert.Equal([" {\"a\":\"é\"}", "{\"b\":2}\r", " {\"c\":3}"], payloads);
    }

    [Fact]
    public void An_unfinished_last_line_is_not_handed_out()
    {
        var payloads = DataOf("data: {\"a\":1}\ndata: {\"b\"", 5);

        Assert.Equal([" {\"a\":1}"], payloads);
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(100_000)]
    public void A_line_longer_than_the_buffer_arrives_whole_and_so_do_the_lines_around_it(int chunk)
    {
        var big = new string('x', 300_000);

        var payloads = DataOf($"data: {{\"a\":1}}\ndata: \"{big}\"\n\ndata: {{\"b\":2}}\n\n", chunk);

        Assert.Equal([" {\"a\":1}", $" \"{big}\"", " {\"b\":2}"], payloads);
    }

    [Theory]
    [InlineData(70_001)]
    [InlineData(1_000_000)]
    public void A_multi_megabyte_line_then_a_stream_of_short_ones_all_arrive_whole(int chunk)
    {
        var big = new string('m', 3_500_000);
        var small = Enumerable.Range(0, 2000).Select(index => $"{{\"n\":{index}}}").ToList();

        var payloads = DataOf($"data: {big}\n{string.Concat(small.Select(line => $"data: {line}\n\n"))}data: {big}\n\n", chunk);

        Assert.Equal([" " + big, .. small.Select(line => " " + line), " " + big], payloads);
    }
}
