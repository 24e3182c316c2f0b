using System.Buffers;

namespace Oubliette.Agents.OpenCode;

/// <summary>
/// The <c>data:</c> lines of a server-sent event stream as UTF-8 bytes, straight from the stream's buffers: no string
/// per line and no transcoding, because an agent streaming a reply sends thousands of small events a second.
/// </summary>
internal static class ServerSentEventReader
{
    private const int BufferSize = 64 * 1024;

    /// <summary>
    /// The longest line kept. OpenCode's events are far smaller (and are cut to <c>server.max_event_bytes</c> anyway);
    /// whatever listens on OpenCode's port runs as the agent's user, so a line that never ends must not grow the
    /// server's buffer without a bound.
    /// </summary>
    public const int MaxLineBytes = 16 * 1024 * 1024;

    /// <summary>
    /// Hands every data line's payload to <paramref name="onData"/> (in order) until the stream ends. Reads synchronously:
    /// the agent's event stream is read on a thread of its own (see <see cref="UnixSocketHttp.CreateForBlockingReads"/>).
    /// Each byte is searched for a line end once, however many reads a long line takes. A line longer than
    /// <paramref name="maxLineBytes"/> is dropped whole (its bytes are read and forgotten up to its end) and reported to
    /// <paramref name="onSkipped"/> with its length.
    /// </summary>
    public static void ReadData(Stream stream, Action<ReadOnlySequence<byte>> onData, int maxLineBytes = MaxLineBytes, Action<long>? onSkipped = null)
    {
        var buffer = new byte[BufferSize];
        var filled = 0;
        var searched = 0;
        var skipping = false;
        long skipped = 0;
        while (true)
        {
            if (filled == buffer.Length)
            {
                // The buffer holds one unfinished line (finished ones were moved out below).
                if (skipping)
                {
                    skipped += filled;
                    filled = searched = 0;
                }
                else if (buffer.Length >= maxLineBytes)
                {
                    skipping = true;
                    skipped = filled;
                    buffer = new byte[BufferSize];
                    filled = searched = 0;
                }
                else
                {
                    Array.Resize(ref buffer, Math.Min(buffer.Length * 2, Math.Max(maxLineBytes, BufferSize)));
                }
            }

            var read = stream.Read(buffer, filled, buffer.Length - filled);
            if (read == 0)
            {
                return;
            }

            filled += read;
            var lineStart = 0;
            while (buffer.AsSpan(searched, filled - searched).IndexOf((byte)'\n') is var found and >= 0)
            {
                var lineEnd = searched + found;
                if (skipping)
                {
                    skipping = false;
                    onSkipped?.Invoke(skipped + lineEnd);
                }
                else
                {
                    DispatchLine(new ReadOnlySequence<byte>(buffer, lineStart, lineEnd - lineStart), onData);
                }

                lineStart = searched = lineEnd + 1;
            }

            // One long event grew the buffer: once what is left fits the usual size again, go back to it, so that a
            // multi-megabyte event does not keep its buffer alive for the life of the stream.
            var target = buffer.Length > BufferSize && filled - lineStart <= BufferSize / 2 ? new byte[BufferSize] : buffer;
            buffer.AsSpan(lineStart, filled - lineStart).CopyTo(target);
            buffer = target;
            filled -= lineStart;
            searched = filled;
        }
    }

    private static void DispatchLine(ReadOnlySequence<byte> line, Action<ReadOnlySequence<byte>> onData)
    {
        var fields = new SequenceReader<byte>(line);
        if (fields.IsNext("data:"u8, advancePast: true))
        {
            onData(line.Slice(fields.Position));
        }
    }
}
