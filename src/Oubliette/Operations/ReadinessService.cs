namespace Oubliette.Operations;

/// <summary>
/// Runs the readiness checks, each with its own short timeout, and caches the report for one second so that
/// a probe storm costs one round of checks.
/// </summary>
public sealed class ReadinessService(IEnumerable<IReadinessCheck> checks, TimeProvider time)
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(3);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private (ReadinessReport Report, DateTimeOffset At)? _cached;

    public async Task<ReadinessReport> GetAsync(CancellationToken cancellationToken)
    {
        if (Fresh() is { } cached)
        {
            return cached;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (Fresh() is { } again)
            {
                return again;
            }

            var results = await Task.WhenAll(checks.Select(check => RunAsync(check, cancellationToken)));
            var report = new ReadinessReport(
                results.All(result => result.Value == "ok"),
                results.ToDictionary(result => result.Key, result => result.Value, StringComparer.Ordinal));
            _cached = (report, time.GetUtcNow());
            return report;
        }
        finally
        {
            _gate.Release();
        }
    }

    private ReadinessReport? Fresh() =>
        _cached is { } cached && time.GetUtcNow() - cached.At < CacheFor ? cached.Report : null;

    private static async Task<KeyValuePair<string, string>> RunAsync(IReadinessCheck check, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CheckTimeout);
        try
        {
            await check.CheckAsync(timeout.Token);
            return new(check.Name, "ok");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new(check.Name, $"failed: no answer within {CheckTimeout.TotalSeconds:0} s");
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return new(check.Name, $"failed: {exception.Message}");
        }
    }
}
