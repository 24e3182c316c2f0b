using Oubliette.Schedules;

namespace Oubliette.Testing;

/// <summary>A turn the fake started; the test finishes it.</summary>
public sealed class FakeScheduledTurn(ScheduledTurn turn, string prompt, bool spawned, ScheduledSpawn? spawn, string? actor, DateTimeOffset startedAt)
{
    private readonly TaskCompletionSource<ScheduledTurnOutcome> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ScheduledTurn Turn { get; } = turn;
    public string SessionId => Turn.SessionId;
    public string Prompt { get; } = prompt;
    public bool Spawned { get; } = spawned;
    public ScheduledSpawn? Spawn { get; } = spawn;
    public string? Actor { get; } = actor;

    /// <summary>When the spawn or message was made (on the fake's clock).</summary>
    public DateTimeOffset StartedAt { get; } = startedAt;
    public Task<ScheduledTurnOutcome> Outcome => _outcome.Task;

    public void Complete(string output, long tokensIn = 10, long tokensOut = 5, double cost = 0.01) =>
        _outcome.TrySetResult(new ScheduledTurnOutcome(true, output, null, tokensIn, tokensOut, cost));

    public void Fail(string error) => _outcome.TrySetResult(new ScheduledTurnOutcome(false, null, error, 0, 0, 0));
}
