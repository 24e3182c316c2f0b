namespace Oubliette.Configuration;

/// <summary>Log level for the server log and how many daily files to keep.</summary>
public sealed record LoggingConfig(string Level, int RetentionDays);
