using Oubliette.Errors;

namespace Oubliette.Operations.Backups;

/// <summary>
/// A backup archive is corrupt, truncated, altered or hostile; the message names the archive, the entry and the reason,
/// and says that nothing was changed. The CLI reports it with exit code 1 (the archive, not the command line, is wrong).
/// </summary>
public sealed class CorruptBackupException(string message) : OublietteException(message);
