using Oubliette.Configuration;

namespace Oubliette.Operations.Backups;

/// <summary>Whether a server runs for a home: a live pid file, or something answering <c>/health</c> at the address file's URL.</summary>
public static class ServerLiveness
{
    /// <summary>A description of the running server ("pid 123 at http://…"), or null when none runs.</summary>
    public static async Task<string?> DescribeRunningAsync(OublietteHome home, CancellationToken cancellationToken)
    {
        var runFiles = new RunFiles(home);
        var address = runFiles.ReadAddress();
        if (runFiles.LivePid() is { } pid)
        {
            return $"pid {pid}{(address is null ? "" : $" at {address.GetLeftPart(UriPartial.Authority)}")}";
        }

        if (address is null)
        {
            return null;
        }

        // No live pid file, yet an address file: a server that lost its pid file (or another process) may still answer.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        try
        {
            using var response = await http.GetAsync(new Uri(address, "/health"), cancellationToken);
            return response.IsSuccessStatusCode ? $"a server answering at {address.GetLeftPart(UriPartial.Authority)} (no live pid file)" : null;
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }
}
