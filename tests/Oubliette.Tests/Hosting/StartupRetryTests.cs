using Microsoft.Extensions.Logging.Abstractions;
using Oubliette.Hosting;

namespace Oubliette.Tests.Hosting;

/// <summary>Start-up work that needs the engine ends quietly when the host stops, whatever it was doing.</summary>
public sealed class StartupRetryTests
{
    [Fact]
    public async Task Work_cancelled_by_the_stop_ends_without_an_exception_the_host_would_report_as_a_fault()
    {
        using var stopping = new CancellationTokenSource();
        var attempts = 0;

        var run = StartupRetry.RunAsync("inspect containers", async token =>
        {
            attempts++;
            await stopping.CancelAsync();
            token.ThrowIfCancellationRequested();
        }, NullLogger.Instance, TimeProvider.System, stopping.Token);

        await run;
        Assert.True(run.IsCompletedSuccessfully);
        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task A_stop_during_the_pause_between_attempts_ends_without_an_exception()
    {
        using var stopping = new CancellationTokenSource();
        var attempts = 0;

        var run = StartupRetry.RunAsync("inspect containers", _ =>
        {
            attempts++;
            stopping.CancelAfter(TimeSpan.FromMilliseconds(50));
            throw new IOException("engine away");
        }, NullLogger.Instance, TimeProvider.System, stopping.Token);

        await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(run.IsCompletedSuccessfully);
        Assert.Equal(1, attempts);
    }
}
