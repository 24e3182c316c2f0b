using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Oubliette.Mcp;

/// <summary>
/// Keeps a long call alive: while a tool call that carried a progress token runs, <c>notifications/progress</c> goes to
/// the caller every <see cref="Interval"/> (progress = whole seconds waited, no total), over the call's own response
/// stream. Clients that reset their request timeout on progress (the TypeScript SDK's <c>resetTimeoutOnProgress</c>)
/// then never give up on a <c>session wait</c>, an events long poll or a caller tool still being answered.
/// Calls that finish within the first interval send nothing.
/// </summary>
internal sealed class ProgressHeartbeat : IAsyncDisposable
{
    // Well under the shortest request timeout clients set in practice (the TS SDK's default is 60 s; tests use 5 s).
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    private readonly CancellationTokenSource _stop;
    private readonly Task _loop;

    private ProgressHeartbeat(McpServer server, ProgressToken token, string what, TimeSpan interval, CancellationToken cancellationToken)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _loop = BeatAsync(server, token, what, interval, _stop.Token);
    }

    /// <summary>Starts beating when the request asked for progress; null (nothing to stop) when it did not.</summary>
    public static ProgressHeartbeat? Start(McpServer server, RequestParams? request, string what, CancellationToken cancellationToken) =>
        request?.ProgressToken is { } token ? new ProgressHeartbeat(server, token, what, Interval, cancellationToken) : null;

    private static async Task BeatAsync(McpServer server, ProgressToken token, string what, TimeSpan interval, CancellationToken cancellationToken)
    {
        var started = TimeProvider.System.GetTimestamp();
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var seconds = Math.Round(TimeProvider.System.GetElapsedTime(started).TotalSeconds);
                await server.NotifyProgressAsync(token, new ProgressNotificationValue { Progress = (float)seconds, Message = $"{what}: still running after {seconds:0} s" },
                    cancellationToken: cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The call finished (or was cancelled): no more beats.
        }
        catch (Exception exception) when (exception is IOException or InvalidOperationException or ObjectDisposedException)
        {
            // The response stream is gone; the call itself notices on its own.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
