using System.CommandLine;
using System.Globalization;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Operations.Backups;
using Oubliette.Schedules;
using Oubliette.Storage;

namespace Oubliette.Cli;

/// <summary>
/// <c>oubliette backup create [--project ID] [--include-workspaces] | list | verify &lt;archive&gt; | restore &lt;archive&gt; [--project ID]</c>:
/// on-demand project archives in <c>defaults.backup.directory</c>, their list, their checksum check, and a restore while
/// the server is stopped.
/// </summary>
public sealed class BackupCommand
{
    private readonly CliContext _context;
    private readonly Option<string?> _createProject = new("--project") { Description = "Back up only this project (its id); default: every project." };
    private readonly Option<bool> _includeWorkspaces = new("--include-workspaces") { Description = "Also archive the project's workspaces (left out by default)." };
    private readonly Argument<string> _verifyArchive = new("archive") { Description = "The archive: a path, or a file name from 'backup list'." };
    private readonly Argument<string> _restoreArchive = new("archive") { Description = "The archive: a path, or a file name from 'backup list'." };
    private readonly Option<string?> _restoreProject = new("--project") { Description = "Restore only if the archive holds this project (a safety check)." };

    public BackupCommand(CliContext context)
    {
        _context = context;
        Command = new Command("backup", "Create, list, verify and restore project backups.");

        var create = new Command("create", "Archive projects (metadata, config, sessions, their tokens and schedules) into the backup folder.");
        create.Options.Add(_createProject);
        create.Options.Add(_includeWorkspaces);
        create.SetAction(CreateAsync);
        Command.Subcommands.Add(create);

        var list = new Command("list", "List the archives in the backup folder, newest first.");
        list.SetAction(ListAsync);
        Command.Subcommands.Add(list);

        var verify = new Command("verify", "Check an archive's structure and every checksum in its manifest; changes nothing.");
        verify.Arguments.Add(_verifyArchive);
        verify.SetAction(VerifyAsync);
        Command.Subcommands.Add(verify);

        var restore = new Command("restore", "Restore a project from an archive (the server must be stopped; the project must not exist).");
        restore.Arguments.Add(_restoreArchive);
        restore.Options.Add(_restoreProject);
        restore.SetAction(RestoreAsync);
        Command.Subcommands.Add(restore);
    }

    public Command Command { get; }

    private async Task<int> CreateAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var home = _context.RequireHome(parseResult);
        var projectId = ParseProject(parseResult.GetValue(_createProject));
        var directory = Directory(home);
        home.EnsureDataDirectories();
        using var tokens = new TokenStore(new SqliteDatabase(home.AuthDatabase));
        await tokens.InitializeAsync(cancellationToken);
        var schedules = new ScheduleStore(new SqliteDatabase(home.SchedulesDatabase, foreignKeys: true), _context.Time);
        await schedules.InitializeAsync(cancellationToken);
        var archives = await new BackupCreator(home, directory, tokens.Database, schedules.Database, _context.Time)
            .CreateAsync(projectId, parseResult.GetValue(_includeWorkspaces), cancellationToken);
        if (archives.Count == 0)
        {
            await _context.Out.WriteLineAsync($"no projects to back up in {home.ProjectsDirectory}");
            return CliApp.Success;
        }

        foreach (var archive in archives)
        {
            var skipped = archive.Skipped == 0 ? "" : $"; left out {archive.Skipped} links or special files outside workspaces, names a restore could not read back, or sparse files and repeated hard links past the 256 MiB budget";
            await _context.Out.WriteLineAsync($"backed up project {archive.ProjectId:D} to {archive.Path} ({archive.SizeBytes} bytes, {archive.Entries} entries{skipped})");
        }

        return CliApp.Success;
    }

    private async Task<int> ListAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var directory = Directory(_context.RequireHome(parseResult));
        var files = BackupCatalog.List(directory);
        if (files.Count == 0)
        {
            await _context.Out.WriteLineAsync($"no backups in {directory}");
            return CliApp.Success;
        }

        await _context.Out.WriteLineAsync($"{"FILE",-60}  {"PROJECT",-36}  {"CREATED (UTC)",-19}  SIZE");
        foreach (var file in files)
        {
            await _context.Out.WriteLineAsync(
                $"{Path.GetFileName(file.Path),-60}  {file.ProjectId:D}  {file.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),-19}  {file.SizeBytes}");
        }

        await _context.Out.WriteLineAsync($"{files.Count} archive{(files.Count == 1 ? "" : "s")} in {directory}");
        return CliApp.Success;
    }

    private async Task<int> VerifyAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var home = _context.RequireHome(parseResult);
        var archive = ResolveArchive(Directory(home), parseResult.GetValue(_verifyArchive));
        // A corrupt archive throws CorruptBackupException: exit 1 with its reason.
        var manifest = await BackupArchiveReader.ReadAsync(archive, null, cancellationToken);

        await _context.Out.WriteLineAsync(
            $"ok: {archive} holds project {manifest.ProjectId:D} from {manifest.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC; "
            + $"{manifest.Entries.Count} entries, every checksum matches{(manifest.IncludesWorkspaces ? " (workspaces included)" : "")}");
        return CliApp.Success;
    }

    private async Task<int> RestoreAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var home = _context.RequireHome(parseResult);
        var expected = ParseProject(parseResult.GetValue(_restoreProject));
        var archive = ResolveArchive(Directory(home), parseResult.GetValue(_restoreArchive));
        var report = await new BackupRestorer(home, _context.Time).RestoreAsync(archive, expected, cancellationToken);

        await _context.Out.WriteLineAsync($"""
            restored project {report.ProjectId:D} ({report.ProjectName}) from the backup of {report.BackupCreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC
              files:      {report.Files}
              tokens:     {(report.Tokens.Count == 0 ? "none" : string.Join(", ", report.Tokens))} (tokens revoked since the backup are back too: revoke them again if that was meant)
              schedules:  {report.Schedules} restored{(report.SchedulesKept == 0 ? "" : $", {report.SchedulesKept} kept as they are now (same id or name)")}
            """);
        if (report.EmptyWorkspaces > 0)
        {
            await _context.Out.WriteLineAsync($"  workspaces: not in the archive; empty workspace folders made: {report.EmptyWorkspaces}");
        }

        await _context.Out.WriteLineAsync("start the server to use it: oubliette --daemon");
        return CliApp.Success;
    }

    private static string Directory(OublietteHome home) => BackupLocation.Resolve(home, ConfigParser.Load(home.ConfigFile).Defaults.Backup);

    private static Guid? ParseProject(string? text) => text is null
        ? null
        : Guid.TryParseExact(text, "D", out var id)
            ? id
            : throw new InvalidArgumentException($"--project '{text}' is not a project id (allowed: a UUID such as 3f2c8a4e-0b1d-4c5e-9a7f-2d6b8e1c0a93)");

    /// <summary>A path as given (relative to the working folder), else a file name in the backup folder.</summary>
    private static string ResolveArchive(string directory, string? argument)
    {
        if (string.IsNullOrWhiteSpace(argument))
        {
            throw new InvalidArgumentException("archive must name a backup file (see 'oubliette backup list')");
        }

        var given = Path.GetFullPath(argument);
        if (File.Exists(given))
        {
            return given;
        }

        var inFolder = Path.Combine(directory, argument);
        return !argument.Contains('/', StringComparison.Ordinal) && File.Exists(inFolder)
            ? inFolder
            : throw new NotFoundException($"archive '{argument}' not found (looked at {given} and {inFolder}); see 'oubliette backup list'");
    }
}
