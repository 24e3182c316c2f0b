using System.Globalization;
using Microsoft.Data.Sqlite;
using Oubliette.Storage;

namespace Oubliette.Auth;

/// <summary>Tokens in <c>data/auth.db</c>. Secrets are stored only as SHA-256 hashes.</summary>
public sealed class TokenStore(SqliteDatabase database)
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS tokens (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            scope TEXT NOT NULL,
            secret_sha256 BLOB NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            last_used_at TEXT NULL,
            expires_at TEXT NULL
        );
        """;

    private const string Columns = "id, name, scope, created_at, last_used_at, expires_at";

    public SqliteDatabase Database => database;

    public Task InitializeAsync(CancellationToken cancellationToken) => database.InitializeAsync(Schema, cancellationToken);

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
    }

    public async Task<TokenRecord?> FindByHashAsync(byte[] secretHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM tokens WHERE secret_sha256 = $hash;";
        command.Parameters.AddWithValue("$hash", secretHash);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
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
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<int> DeleteExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at <= $now;";
        command.Parameters.AddWithValue("$now", Format(now));
        return await command.ExecuteNonQueryAsync(cancellationToken);
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
