namespace Oubliette.Configuration;

public sealed record BackupConfig(bool Enabled, string Directory, int Retention, int IntervalHours);
