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

    private static async Task<List<string>> DataOfAsync(string stream, int chunk)
    {
        var payloads = new List<string>();
        await using var source = new TrickleStream(Encoding.UTF8.GetBytes(stream), chunk);
        await ServerSentEventReader.ReadDataAsync(source, data => payloads.Add(Encoding.UTF8.GetString(data)), CancellationToken.None);
        return payloads;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public async Task Data_lines_arrive_whole_and_in_order_however_the_bytes_are_split(int chunk)
    {
        var payloads = await DataOfAsync("event: message\ndata: {\"a\":\"é\"}\n\n: comment\ndata:{\"b\":2}\r\n\ndata: {\"c\":3}\n\n", chunk);

        Assert.Equal([" {\"a\":\"é\"}", "{\"b\":2}\r", " {\"c\":3}"], payloads);
    }

    [Fact]
    public async Task An_unfinished_last_line_is_not_handed_out()
    {
        var payloads = await DataOfAsync("data: {\"a\":1}\ndata: {\"b\"", 5);

        Assert.Equal([" {\"a\":1}"], payloads);
    }
}
