using System.Globalization;
using System.Text;
using System.Threading.Channels;

namespace Oubliette.Operations.Logging;

/// <summary>
/// Writes log lines to <c>data/logs/oubliette-yyyyMMdd.log</c> (0600), one file per UTC day, keeping the newest
/// <c>retentionDays</c> files. Loggers only enqueue; one background task does the file I/O.
/// </summary>
public sealed class DailyFileLoggerProvider : ILoggerProvider
{
    private const string FilePrefix = "oubliette-";
    private static readonly TimeSpan CoalesceInterval = TimeSpan.FromMilliseconds(20);
    private readonly string _directory;
    private readonly int _retentionDays;
    private readonly TimeProvider _time;
    private readonly LogLevel _minimumLevel;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;

    public DailyFileLoggerProvider(string directory, int retentionDays, LogLevel minimumLevel, TimeProvider time)
    {
        _directory = directory;
        _retentionDays = retentionDays;
        _minimumLevel = minimumLevel;
        _time = time;
        Directory.CreateDirectory(directory);
        _writer = Task.Run(WriteLoopAsync);
    }

    public ILogger CreateLogger(string categoryName) => new DailyFileLogger(this, categoryName);

    public void Dispose()
    {
        _lines.Writer.TryComplete();
        // ILoggerProvider.Dispose is synchronous; the wait is bounded so a stuck disk cannot hold the process open at shutdown.
#pragma warning disable VSTHRD002
        _writer.Wait(TimeSpan.FromSeconds(5));
#pragma warning restore VSTHRD002
    }

    internal bool IsEnabled(LogLevel level) => level >= _minimumLevel && level != LogLevel.None;

    internal void Enqueue(LogLevel level, string category, string message, Exception? exception) =>
        _lines.Writer.TryWrite(FormatLine(_time.GetUtcNow(), level, category, message, exception));

    /// <summary>One line as every log file of the server has it: <c>time LEVEL category: message</c>, then the exception.</summary>
    internal static string FormatLine(DateTimeOffset now, LogLevel level, string category, string message, Exception? exception)
    {
        var builder = new StringBuilder(128)
            .Append(now.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture))
            .Append(' ').Append(LevelName(level)).Append(' ').Append(category).Append(": ").Append(message);
        if (exception is not null)
        {
            builder.AppendLine().Append(exception);
        }

        return builder.Append('\n').ToString();
    }

    /// <summary>
    /// Appends one line to today's file directly, for the moments no logger exists: a start-up that failed before the
    /// server's logging was built (a config error, a port in use) and the last words after the server was disposed.
    /// </summary>
    public static void AppendDirect(string directory, TimeProvider time, LogLevel level, string category, string message)
    {
        Directory.CreateDirectory(directory);
        var now = time.GetUtcNow();
        using var writer = OpenFile(directory, now.ToString("yyyyMMdd", CultureInfo.InvariantCulture));
        writer.Write(FormatLine(now, level, category, message, null));
    }

    private async Task WriteLoopAsync()
    {
        string? currentDay = null;
        StreamWriter? writer = null;
        try
        {
            while (await _lines.Reader.WaitToReadAsync())
            {
                var day = _time.GetUtcNow().ToString("yyyyMMdd", CultureInfo.InvariantCulture);
                if (writer is null || day != currentDay)
                {
                    if (writer is not null)
                    {
                        await writer.DisposeAsync();
                    }

                    writer = OpenDailyFile(day);
                    currentDay = day;
                    PruneOldFiles();
                }

                // The file may have grown behind this writer (AppendDirect, a daemon's parent): write at its end, never over
                // what another writer put there. The writer was flushed after its last batch, so nothing is buffered here.
                writer.BaseStream.Seek(0, SeekOrigin.End);
                while (_lines.Reader.TryRead(out var line))
                {
                    await writer.WriteAsync(line);
                }

                await writer.FlushAsync();
                // Coalesce: under load, one wake-up and one write per interval instead of one per line (real time on purpose:
                // this paces I/O, it is not business time).
                await Task.Delay(CoalesceInterval);
            }
        }
        finally
        {
            if (writer is not null)
            {
                await writer.DisposeAsync();
            }
        }
    }

    private StreamWriter OpenDailyFile(string day) => OpenFile(_directory, day);

    private static StreamWriter OpenFile(string directory, string day) => new(
        new FileStream(Path.Combine(directory, $"{FilePrefix}{day}.log"), new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }),
        new UTF8Encoding(false));

    private void PruneOldFiles()
    {
        var files = Directory.GetFiles(_directory, $"{FilePrefix}*.log").Order(StringComparer.Ordinal).ToList();
        foreach (var old in files.Take(Math.Max(0, files.Count - _retentionDays)))
        {
            File.Delete(old);
        }
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "TRCE",
        LogLevel.Debug => "DBUG",
        LogLevel.Information => "INFO",
        LogLevel.Warning => "WARN",
        LogLevel.Error => "FAIL",
        _ => "CRIT",
    };
}
