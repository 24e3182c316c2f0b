namespace Oubliette.Storage;

/// <summary>
/// Writes a file so that readers and crashes only ever see the old content or the new: a fresh owner-only temp file,
/// flushed to disk, then renamed over the target.
/// </summary>
public static class AtomicFile
{
    public static async Task WriteAsync(string path, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            await using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                await write(stream, cancellationToken);
                await stream.FlushAsync(cancellationToken);
#pragma warning disable CA1849 // FileStream has no asynchronous fsync.
                stream.Flush(flushToDisk: true);
#pragma warning restore CA1849
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    public static Task WriteTextAsync(string path, string content, CancellationToken cancellationToken) =>
        WriteAsync(path, (stream, token) => stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(content), token).AsTask(), cancellationToken);
}
