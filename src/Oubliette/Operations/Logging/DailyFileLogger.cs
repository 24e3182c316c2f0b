
namespace Oubliette.Operations.Logging;

internal sealed class DailyFileLogger(DailyFileLoggerProvider provider, string category) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => provider.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            provider.Enqueue(logLevel, category, formatter(state, exception), exception);
        }
    }
}
