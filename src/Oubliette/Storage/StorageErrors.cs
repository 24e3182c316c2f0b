namespace Oubliette.Storage;

/// <summary>A failed file operation in words for a caller: the reason ("no space left on device"), without the runtime's decoration.</summary>
public static class StorageErrors
{
    public static string Describe(Exception exception)
    {
        var message = exception.Message;
        // .NET appends " : 'path'" to errno messages; the path is ours, not the caller's business.
        var cut = message.IndexOf(" : '", StringComparison.Ordinal);
        var reason = (cut > 0 ? message[..cut] : message).Trim().TrimEnd('.');
        return exception is UnauthorizedAccessException
            ? "permission denied"
            : reason.Length == 0 ? "the file system refused the write" : char.ToLowerInvariant(reason[0]) + reason[1..];
    }
}
