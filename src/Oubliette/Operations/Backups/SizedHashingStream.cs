using System.Security.Cryptography;

namespace Oubliette.Operations.Backups;

/// <summary>
/// Reads exactly <see cref="Length"/> bytes of a file that may change while it is read (an agent writing in its
/// workspace), hashing what it hands out: bytes past the length are left out and a file that shrank is padded with
/// zeros, so the tar header's size, the content and the manifest's hash always agree.
/// </summary>
internal sealed class SizedHashingStream(Stream inner, long length) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _position;

    public override bool CanRead => true;
    // Seekable as far as TarWriter asks (Length and Position, to size the header); it never seeks.
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    /// <summary>The SHA-256 (lower-case hex) of the bytes read; call once, after the last read.</summary>
    public string Sha256() => Convert.ToHexStringLower(_hash.GetHashAndReset());

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var wanted = (int)Math.Min(buffer.Length, length - _position);
        if (wanted <= 0)
        {
            return 0;
        }

        var read = inner.Read(buffer[..wanted]);
        if (read == 0)
        {
            buffer[..wanted].Clear();
            read = wanted;
        }

        _hash.AppendData(buffer[..read]);
        _position += read;
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var wanted = (int)Math.Min(buffer.Length, length - _position);
        if (wanted <= 0)
        {
            return 0;
        }

        var read = await inner.ReadAsync(buffer[..wanted], cancellationToken);
        if (read == 0)
        {
            buffer.Span[..wanted].Clear();
            read = wanted;
        }

        _hash.AppendData(buffer.Span[..read]);
        _position += read;
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}
