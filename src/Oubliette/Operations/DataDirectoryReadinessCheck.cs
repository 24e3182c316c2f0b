namespace Oubliette.Operations;

/// <summary>Ready when a file can be created, written and removed in the data directory.</summary>
public sealed class DataDirectoryReadinessCheck(string dataDirectory) : IReadinessCheck
{
    public string Name => "data_dir";

    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        var probe = Path.Combine(dataDirectory, $".ready-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            await File.WriteAllBytesAsync(probe, [1], cancellationToken);
        }
        finally
        {
            File.Delete(probe);
        }
    }
}
