namespace Oubliette.Configuration;

public sealed record CleanupConfig(int IntervalMinutes, int RetentionMinutes);
