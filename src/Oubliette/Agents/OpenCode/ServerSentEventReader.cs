using System.Buffers;
using System.IO.Pipelines;

namespace Oubliette.Agents.OpenCode;

/// <summary>
/// The <c>data:</c> lines of a server-sent event stream as UTF-8 bytes, straight from the stream's buffers: no string
/// per line and no transcoding, because an agent streaming a reply sends thousands of small events a second.
/// </summary>
internal static class ServerSentEventReader
{
    private const int BufferSize = 64 * 1024;

    /// <summary>Hands every data line's payload to <paramref name="onData"/> (synchronously, in order) until the stream ends.</summary>
    public static async Task ReadDataAsync(Stream stream, Action<ReadOnlySequence<byte>> onData, CancellationToken cancellationToken)
    {
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: BufferSize, leaveOpen: true));
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken);
                var consumed = DispatchLines(result.Buffer, onData);
                reader.AdvanceTo(consumed, result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    /// <summary>Dispatches every complete line of <paramref name="buffer"/>; returns where the incomplete rest begins.</summary>
    internal static SequencePosition DispatchLines(ReadOnlySequence<byte> buffer, Action<ReadOnlySequence<byte>> onData)
    {
        var lines = new SequenceReader<byte>(buffer);
        while (lines.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
        {
            var fields = new SequenceReader<byte>(line);
            if (fields.IsNext("data:"u8, advancePast: true))
            {
                onData(line.Slice(fields.Position));
            }
        }

        return lines.Position;
    }
}
