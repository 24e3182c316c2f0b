using System.Collections.Concurrent;
using System.Threading.Channels;
using Oubliette.Schedules;

namespace Oubliette.Testing;

/// <summary>
/// <see cref="IScheduledSessions"/> for runner tests: spawns and messages are recorded; each turn finishes when the test
/// says so (<see cref="FakeScheduledTurn.Complete"/>), or at once with <see cref="CompleteAtOnce"/>.
/// </summary>
public sealed class FakeScheduledSessions(TimeProvider? time = null) : IScheduledSessions
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, bool> _usable = new(StringComparer.Ordinal);
    private readonly Channel<FakeScheduledTurn> _started = Channel.CreateUnbounded<FakeScheduledTurn>();
    private int _sessionCount;

    /// <summary>Turns finish successfully as soon as they start, with the output <c>output of turn N</c>.</summary>
    public bool CompleteAtOnce { get; set; }

    /// <summary>Thrown by the next spawns (a limit, a budget, a project gone).</summary>
    public Exception? SpawnError { get; set; }

    /// <summary>Every turn started, in order.</summary>
    public ConcurrentQueue<FakeScheduledTurn> Turns { get; } = new();

    public int Spawns => Turns.Count(turn => turn.Spawned);

    /// <summary>The next turn to start (in start order); throws after <paramref name="timeout"/>.</summary>
    public async Task<FakeScheduledTurn> NextStartedAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        return await _started.Reader.ReadAsync(deadline.Token);
    }

    /// <summary>The session ends (or fails): it is no longer usable for resume.</summary>
    public void End(string sessionId) => _usable[sessionId] = false;

    /// <summary>As the real one: not ended, and not running a turn.</summary>
    public bool IsUsable(string sessionId) =>
        _usable.GetValueOrDefault(sessionId) && !Turns.Any(turn => turn.SessionId == sessionId && !turn.Outcome.IsCompleted);

    public Task<ScheduledTurn> SpawnAsync(ScheduledSpawn spawn, string actor, CancellationToken cancellationToken)
    {
        if (SpawnError is { } error)
        {
            throw error;
        }

        var sessionId = $"session-{Interlocked.Increment(ref _sessionCount)}";
        _usable[sessionId] = true;
        return Task.FromResult(Start(sessionId, spawn.Prompt, spawned: true, spawn, actor));
    }

    public Task<ScheduledTurn> MessageAsync(string sessionId, string prompt, CancellationToken cancellationToken) =>
        Task.FromResult(Start(sessionId, prompt, spawned: false, spawn: null, actor: null));

    public async Task<ScheduledTurnOutcome> WaitTurnAsync(ScheduledTurn turn, CancellationToken cancellationToken)
    {
        var started = Turns.Single(candidate => ReferenceEquals(candidate.Turn, turn));
        return await started.Outcome.WaitAsync(cancellationToken);
    }

    private ScheduledTurn Start(string sessionId, string prompt, bool spawned, ScheduledSpawn? spawn, string? actor)
    {
        var turn = new ScheduledTurn(sessionId, Turns.Count, 0, 0, 0);
        var fake = new FakeScheduledTurn(turn, prompt, spawned, spawn, actor, _time.GetUtcNow());
        Turns.Enqueue(fake);
        if (CompleteAtOnce)
        {
            fake.Complete($"output of turn {Turns.Count}");
        }

        _started.Writer.TryWrite(fake);
        return turn;
    }
}
