namespace Oubliette.Cleanup;

/// <summary>One kind of leftover the cleanup pass removes (SPEC §9). Never anything in a workspace.</summary>
public interface ICleanupTask
{
    /// <summary>The <c>kind</c> label of <c>oubliette_cleanup_removed_total</c> and its name in the pass's log line.</summary>
    string Kind { get; }

    /// <summary>
    /// Removes what is due and returns how many items went. <paramref name="cutoff"/> is <paramref name="now"/> less
    /// <c>defaults.cleanup.retention_minutes</c>: what ended (or was last written) at or before it is past retention.
    /// </summary>
    Task<int> RunAsync(DateTimeOffset now, DateTimeOffset cutoff, CancellationToken cancellationToken);
}
