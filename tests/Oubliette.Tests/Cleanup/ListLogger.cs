using Microsoft.Extensions.Logging;
using System.Collections.Concurrent;

namespace Oubliette.Tests.Cleanup;

/// <summary>Keeps every formatted line; <see cref="WhenLoggedAsync"/> completes at the first line containing a fragment.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    private readonly Lock _gate = new();
    private readonly List<(string Fragment, TaskCompletionSource<string> Seen)> _waiters = [];

    public ConcurrentQueue<(LogLevel Level, string Text)> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var text = formatter(state, exception);
        lock (_gate)
        {
            Lines.Enqueue((logLevel, text));
            foreach (var waiter in _waiters.Where(waiter => text.Contains(waiter.Fragment, StringComparison.Ordinal)).ToList())
            {
                waiter.Seen.TrySetResult(text);
                _waiters.Remove(waiter);
            }
        }
    }

    public Task<string> WhenLoggedAsync(string fragment)
    {
        lock (_gate)
        {
            if (Lines.FirstOrDefault(line => line.Text.Contains(fragment, StringComparison.Ordinal)) is { Text: { } seen })
            {
                return Task.FromResult(seen);
            }

            var waiter = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((fragment, waiter));
            return waiter.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }
}
