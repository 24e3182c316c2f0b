using Microsoft.Data.Sqlite;
using Oubliette.Errors;

namespace Oubliette.Storage;

/// <summary>
/// One SQLite file in WAL mode with a busy timeout, so the running server, the CLI and an operator's
/// <c>sqlite3 … VACUUM</c> can share it. The file is created 0600 before SQLite first opens it.
/// </summary>
public sealed class SqliteDatabase
{
    private const int BusyTimeoutSeconds = 10;
    private readonly string _connectionString;
    private readonly string _migrationConnectionString;

    /// <param name="path">The database file.</param>
    /// <param name="foreignKeys">
    /// Enforce foreign keys on every connection (SQLite's default is off, and the setting lasts only for one connection).
    /// </param>
    public SqliteDatabase(string path, bool foreignKeys = false)
    {
        Path = path;
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = BusyTimeoutSeconds,
        };
        // Migrations may rebuild a table (create new, copy, drop old, rename): SQLite's documented way needs foreign keys
        // off while it happens, and checks them afterwards (MigrateAsync does).
        builder.ForeignKeys = false;
        _migrationConnectionString = builder.ToString();
        builder.ForeignKeys = foreignKeys ? true : null;
        _connectionString = builder.ToString();
    }

    public string Path { get; }

    /// <summary>
    /// Creates the file (0600) when missing, switches it to WAL and brings its schema to the newest version:
    /// <paramref name="steps"/>[i] turns version i into version i + 1 (<c>PRAGMA user_version</c> holds the version). Each
    /// step runs in its own write transaction together with the version bump, so a crash leaves the file at a whole
    /// version, and two processes starting at once apply each step once. Steps only ever get appended: rows written by an
    /// older release are carried forward by the steps, never dropped. Returns the version the file had before.
    /// </summary>
    /// <exception cref="ConflictException">The file has a newer version than <paramref name="steps"/> knows (written by a newer release): nothing is changed.</exception>
    /// <exception cref="InvalidOperationException">A step left dangling foreign keys.</exception>
    public async Task<int> MigrateAsync(IReadOnlyList<string> steps, CancellationToken cancellationToken)
    {
        CreateOwnerOnly();
        await using var connection = new SqliteConnection(_migrationConnectionString);
        await connection.OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "PRAGMA journal_mode=WAL;", cancellationToken);
        var before = await VersionAsync(connection, null, cancellationToken);
        for (var version = before; version < steps.Count; version++)
        {
            // Microsoft.Data.Sqlite begins IMMEDIATE (not deferred) transactions: the write lock is taken first, so a second
            // process waits here, then sees the new version and skips the step.
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            var current = await VersionAsync(connection, transaction, cancellationToken);
            if (current > version)
            {
                version = current - 1;
                continue;
            }

            await ExecuteAsync(connection, transaction, steps[version], cancellationToken);
            await using (var check = connection.CreateCommand())
            {
                check.Transaction = transaction;
                check.CommandText = "PRAGMA foreign_key_check;";
                await using var dangling = await check.ExecuteReaderAsync(cancellationToken);
                if (await dangling.ReadAsync(cancellationToken))
                {
                    throw new InvalidOperationException($"{Path}: schema step {version + 1} leaves a row of '{dangling.GetString(0)}' pointing at a missing '{dangling.GetString(2)}'");
                }
            }

            await ExecuteAsync(connection, transaction, $"PRAGMA user_version = {version + 1};", cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        var after = await VersionAsync(connection, null, cancellationToken);
        if (after > steps.Count)
        {
            throw new ConflictException(
                $"{Path} has schema version {after}, newer than the {steps.Count} this release knows: it was written by a newer Oubliette, "
                + "and this one refuses to use data it does not understand; run the newer release, or restore a backup made by this one");
        }

        return before;
    }

    /// <summary>
    /// Copies every committed page from the WAL into the main file and empties the WAL (<c>wal_checkpoint(TRUNCATE)</c>),
    /// called after each write: so a plain <c>cp data/auth.db</c> (the runbook's backup) holds every acknowledged change
    /// without its <c>-wal</c> file. It waits for readers through the busy timeout; when one still holds an older snapshot
    /// (an operator's open <c>sqlite3</c> session), the pages it blocks stay in the WAL and the next write's checkpoint
    /// copies them. Returns whether the main file now holds every committed page.
    /// </summary>
    public static async Task<bool> CheckpointAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        // One row: busy (1 when a reader or writer kept it from finishing), WAL frames, frames copied into the main file.
        return await reader.ReadAsync(cancellationToken) && (reader.GetInt64(0) == 0 || reader.GetInt64(1) == reader.GetInt64(2));
    }

    /// <summary>
    /// A connection of its own (not pooled, so the attachment ends with it) on <paramref name="path"/>, with
    /// <paramref name="attached"/> attached as schema <c>archived</c>: for copying rows out of a restored copy.
    /// </summary>
    public static async Task<SqliteConnection> OpenAttachedAsync(string path, string attached, bool foreignKeys, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = BusyTimeoutSeconds,
            ForeignKeys = foreignKeys,
        }.ToString());
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "ATTACH DATABASE $file AS archived;";
            command.Parameters.AddWithValue("$file", System.IO.Path.GetFullPath(attached));
            await command.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The schema version of the file (<c>PRAGMA user_version</c>), read without changing anything.</summary>
    public async Task<int> ReadVersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await VersionAsync(connection, null, cancellationToken);
    }

    /// <summary>
    /// A consistent copy of the whole database at <paramref name="destination"/> (created 0600, replaced if present) through
    /// SQLite's online backup API: writers may go on meanwhile, the copy is one committed state.
    /// </summary>
    public async Task BackupToAsync(string destination, CancellationToken cancellationToken)
    {
        File.Delete(destination);
        new SqliteDatabase(destination).CreateOwnerOnly();
        await using var source = await OpenAsync(cancellationToken);
        await using var target = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = destination, Pooling = false }.ToString());
        await target.OpenAsync(cancellationToken);
        source.BackupDatabase(target);
        // The copy travels as one file: no WAL beside it.
        await ExecuteAsync(target, null, "PRAGMA journal_mode=DELETE;", cancellationToken);
    }

    private static async Task<int> VersionAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA user_version;";
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private void CreateOwnerOnly()
    {
        if (!File.Exists(Path))
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path)) ?? ".");
            try
            {
                using var _ = new FileStream(Path, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                });
            }
            catch (IOException) when (File.Exists(Path))
            {
                // Another process (or thread) created it between the check and here: it is created owner-only all the same.
            }
        }
    }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    /// <summary>Opens a connection synchronously (for a connection kept open and used under a lock).</summary>
    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    /// <summary>Opens the existing file without pooling or creating it: a real check that the database is usable.</summary>
    public async Task ProbeAsync(CancellationToken cancellationToken)
    {
        var probe = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = 2,
        }.ToString();
        await using var connection = new SqliteConnection(probe);
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_master;";
        await command.ExecuteScalarAsync(cancellationToken);
    }
}
