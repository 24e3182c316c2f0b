using ModelContextProtocol;

namespace Oubliette.Hosting;

/// <summary>
/// Wraps a logger provider so that what the MCP SDK logs about a client's mistake (a protocol error it answers the client
/// with: an unknown tool, invalid params) is one warning line with the message, not an error with a stack trace.
/// </summary>
/// <remarks>
/// Our call-tool filter turns every other failure into a tool result, so an <see cref="McpProtocolException"/> that
/// reaches the SDK's logging is the client's doing; anything else keeps its level and its stack trace.
/// </remarks>
internal sealed class ClientMistakeLoggerProvider(ILoggerProvider inner) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) =>
        categoryName.StartsWith("ModelContextProtocol", StringComparison.Ordinal)
            ? new Logger(inner.CreateLogger(categoryName))
            : inner.CreateLogger(categoryName);

    public void Dispose() => inner.Dispose();

    private sealed class Logger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (exception is McpProtocolException && logLevel >= LogLevel.Warning)
            {
                var message = exception.Message.Split('\n', 2)[0];
                inner.Log(LogLevel.Warning, eventId, state, null, (given, _) => $"{formatter(given, null)} (client error: {message})");
                return;
            }

            if (inner.IsEnabled(logLevel))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
