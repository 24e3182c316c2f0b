using System.Globalization;
using Microsoft.Data.Sqlite;
using Oubliette.Storage;

namespace Oubliette.Auth;

/// <summary>
/// Tokens in <c>data/auth.db</c>. Secrets are stored only as SHA-256 hashes. Every write ends with a WAL checkpoint, so
/// the main file alone holds every acknowledged change (the runbook backs it up with a plain <c>cp</c>).
/// </summary>
/// <remarks><paramref name="time"/> measures <see cref="MaxStaleness"/> (its monotonic timestamp); the system clock when null.</remarks>
public sealed class TokenStore(SqliteDatabase database, TimeProvider? time = null) : IDisposable
{
    /// <summary>How long after another process commits (a CLI <c>token revoke</c>) a cached token may still be accepted.</summary>
    public static readonly TimeSpan MaxStaleness = TimeSpan.FromMilliseconds(10);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly long _maxStalenessTicks = (long)(MaxStaleness.TotalSeconds * (time ?? TimeProvider.System).TimestampFrequency);

    private const int MaxCachedTokens = 1024;
    private readonly Lock _lookupGate = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TokenRecord> _cache = new(StringComparer.Ordinal);
    private SqliteConnection? _lookup;
    private SqliteCommand? _dataVersion;
    private SqliteCommand? _findByHash;
    private SqliteParameter? _hashParameter;
    private long _cachedVersion = -1;
    private long _checkedAt = long.MinValue;
    private bool _disposed;

    /// <summary>
    /// The schema, one step per version (<c>PRAGMA user_version</c>), applied by <see cref="SqliteDatabase.MigrateAsync"/>:
    /// append steps, never edit one that has shipped. Step 1 is written so that a file made before versions were kept
    /// (version 0, table already there) passes through it unchanged.
    /// </summary>
    internal static readonly IReadOnlyList<string> Migrations =
    [
        // 1: tokens.
        """
        CREATE TABLE IF NOT EXISTS tokens (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            scope TEXT NOT NULL,
            secret_sha256 BLOB NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            last_used_at TEXT NULL,
            expires_at TEXT NULL
        );
        """,
    ];

    private const string Columns = "id, name, scope, created_at, last_used_at, expires_at";

    public SqliteDatabase Database => database;

    /// <summary>Creates the file (0600) when missing and brings its schema up to date; refuses a file from a newer release.</summary>
    public Task InitializeAsync(CancellationToken cancellationToken) => database.MigrateAsync(Migrations, cancellationToken);

    public async Task InsertAsync(TokenRecord token, byte[] secretHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO tokens (id, name, scope, secret_sha256, created_at, expires_at)
            VALUES ($id, $name, $scope, $hash, $created, $expires);
            """;
        command.Parameters.AddWithValue("$id", token.Id);
        command.Parameters.AddWithValue("$name", token.Name);
        command.Parameters.AddWithValue("$scope", token.Scope.ToString());
        command.Parameters.AddWithValue("$hash", secretHash);
        command.Parameters.AddWithValue("$created", Format(token.CreatedAt));
        command.Parameters.AddWithValue("$expires", (object?)FormatOrNull(token.ExpiresAt) ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await SqliteDatabase.CheckpointAsync(connection, cancellationToken);
    }

    /// <summary>
    /// The token with this secret hash, asked on every authenticated request. Answered from memory while the database is
    /// unchanged: one kept-open connection asks <c>PRAGMA data_version</c>, which changes whenever any other connection
    /// (the CLI's <c>token revoke</c> in another process, or this server's last-used flush) commits, and any change
    /// empties the cache. This server's own deletes empty it at once (<see cref="Forget"/>), so a token revoked over MCP
    /// is refused from the next request on; a commit by another process is seen within <see cref="MaxStaleness"/>
    /// (asking on every request serialized all requests on one lock: at 32 connections it cost a third of the
    /// server's time per call). Unknown hashes are never cached (a guessing client cannot fill memory).
    /// </summary>
    public Task<TokenRecord?> FindByHashAsync(byte[] secretHash, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Synchronous under the lock: Microsoft.Data.Sqlite's async calls complete synchronously anyway.
        return Task.FromResult(FindByHash(secretHash));
    }

    private TokenRecord? FindByHash(byte[] secretHash)
    {
        var arrived = _time.GetTimestamp();
        var key = Convert.ToHexString(secretHash);
        // Read the check's time before the cache: a check empties the cache before it publishes its time.
        if (Volatile.Read(ref _checkedAt) > arrived - _maxStalenessTicks && _cache.TryGetValue(key, out var fresh))
        {
            return fresh;
        }

        lock (_lookupGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_lookup is null)
            {
                _lookup = database.Open();
                _dataVersion = _lookup.CreateCommand();
                _dataVersion.CommandText = "PRAGMA data_version;";
                _findByHash = _lookup.CreateCommand();
                _findByHash.CommandText = $"SELECT {Columns} FROM tokens WHERE secret_sha256 = $hash;";
                _hashParameter = _findByHash.Parameters.Add("$hash", SqliteType.Blob);
            }

            // Requests that queued behind one check share it (it started after they arrived).
            if (_checkedAt < arrived)
            {
                var started = _time.GetTimestamp();
                var version = (long)_dataVersion!.ExecuteScalar()!;
                if (version != _cachedVersion)
                {
                    _cache.Clear();
                    _cachedVersion = version;
                }

                Volatile.Write(ref _checkedAt, started);
            }

            if (_cache.TryGetValue(key, out var cached))
            {
                return cached;
            }

            _hashParameter!.Value = secretHash;
            using var reader = _findByHash!.ExecuteReader();
            var token = reader.Read() ? Read(reader) : null;
            if (token is not null)
            {
                if (_cache.Count >= MaxCachedTokens)
                {
                    _cache.Clear();
                }

                _cache[key] = token;
            }

            return token;
        }
    }

    /// <summary>
    /// Empties the cache after this server deleted tokens, under the lookup lock, so that a lookup that read a row before
    /// the delete committed cannot put it back afterwards.
    /// </summary>
    private void Forget()
    {
        lock (_lookupGate)
        {
            _cache.Clear();
            _checkedAt = long.MinValue;
        }
    }

    /// <summary>Closes the connection kept for <see cref="FindByHashAsync"/>.</summary>
    public void Dispose()
    {
        lock (_lookupGate)
        {
            _disposed = true;
            _findByHash?.Dispose();
            _dataVersion?.Dispose();
            _lookup?.Dispose();
            _lookup = null;
            _cache.Clear();
            _checkedAt = long.MinValue;
        }
    }

    public async Task<IReadOnlyList<TokenRecord>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM tokens ORDER BY created_at, id;";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var tokens = new List<TokenRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            tokens.Add(Read(reader));
        }

        return tokens;
    }

    /// <summary>Deletes by public id or by secret hash; returns the removed token, or null when neither matched.</summary>
    public async Task<TokenRecord?> DeleteAsync(string id, byte[]? secretHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"DELETE FROM tokens WHERE id = $id OR secret_sha256 = $hash RETURNING {Columns};";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$hash", (object?)secretHash ?? DBNull.Value);
        TokenRecord? removed;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            removed = await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
        }

        await SqliteDatabase.CheckpointAsync(connection, cancellationToken);
        Forget();
        return removed;
    }

    public async Task<int> DeleteExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at <= $now;";
        command.Parameters.AddWithValue("$now", Format(now));
        var removed = await command.ExecuteNonQueryAsync(cancellationToken);
        await SqliteDatabase.CheckpointAsync(connection, cancellationToken);
        Forget();
        return removed;
    }

    /// <summary>Writes many last-used times in one transaction (the batched flush).</summary>
    public async Task UpdateLastUsedAsync(IReadOnlyCollection<KeyValuePair<string, DateTimeOffset>> lastUsed, CancellationToken cancellationToken)
    {
        if (lastUsed.Count == 0)
        {
            return;
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "UPDATE tokens SET last_used_at = $at WHERE id = $id AND (last_used_at IS NULL OR last_used_at < $at);";
        var idParameter = command.Parameters.Add("$id", SqliteType.Text);
        var atParameter = command.Parameters.Add("$at", SqliteType.Text);
        foreach (var (id, at) in lastUsed)
        {
            idParameter.Value = id;
            atParameter.Value = Format(at);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        await SqliteDatabase.CheckpointAsync(connection, cancellationToken);
    }

    /// <summary>
    /// Restore: copies the project's tokens (scopes <c>project:&lt;id&gt;</c> and <c>project:&lt;id&gt;:ro</c>) from
    /// <paramref name="archivedDatabase"/> (an auth.db at this release's schema version) into this one, in one transaction.
    /// A token whose id or secret is already here is kept as it is. Returns the ids of the tokens copied.
    /// </summary>
    public async Task<IReadOnlyList<string>> MergeProjectTokensAsync(string archivedDatabase, Guid projectId, CancellationToken cancellationToken)
    {
        await using var connection = await SqliteDatabase.OpenAttachedAsync(database.Path, archivedDatabase, foreignKeys: false, cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT OR IGNORE INTO main.tokens (id, name, scope, secret_sha256, created_at, last_used_at, expires_at)
            SELECT id, name, scope, secret_sha256, created_at, last_used_at, expires_at FROM archived.tokens
            WHERE scope IN ($scope, $scope || ':ro')
            RETURNING id;
            """;
        command.Parameters.AddWithValue("$scope", TokenScope.Project(projectId).ToString());
        var merged = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                merged.Add(reader.GetString(0));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        await SqliteDatabase.CheckpointAsync(connection, cancellationToken);
        return merged;
    }

    private static TokenRecord Read(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        TokenScope.Parse(reader.GetString(2)),
        Parse(reader.GetString(3)),
        reader.IsDBNull(4) ? null : Parse(reader.GetString(4)),
        reader.IsDBNull(5) ? null : Parse(reader.GetString(5)));

    // Fixed-width UTC ISO-8601 so that text comparison in SQL orders like time.
    private static string Format(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static string? FormatOrNull(DateTimeOffset? at) => at is { } value ? Format(value) : null;

    private static DateTimeOffset Parse(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
