using Oubliette.Sessions;

namespace Oubliette.Cleanup;

/// <summary>
/// Session trees whose every member completed, failed or timed out at or before the cut-off: their metadata files and
/// their registry entries (so <c>session list</c> no longer shows them). See <see cref="SessionService.RemoveEnded"/>.
/// </summary>
public sealed class EndedSessionsCleanup(SessionService sessions) : ICleanupTask
{
    public string Kind => "sessions";

    public Task<int> RunAsync(DateTimeOffset now, DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        Task.FromResult(sessions.RemoveEnded(cutoff).Count);
}
