using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Oubliette.Auth;
using Oubliette.Errors;
using Oubliette.Schedules;
using Oubliette.Storage;

namespace Oubliette.Tests.Storage;

/// <summary>
/// The database files as an operator handles them: a plain <c>cp</c> of the main file while the server runs holds every
/// acknowledged change (WAL checkpoint after each write), and schema versions refuse a file from a newer release.
/// </summary>
public sealed class DatabaseFileTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "oubliette-db-" + Guid.NewGuid().ToString("N")[..10]);

    public DatabaseFileTests() => Directory.CreateDirectory(_directory);

    private static CancellationToken Token => CancellationToken.None;
    private string AuthPath => Path.Combine(_directory, "auth.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private static TokenRecord NewToken(string name) => new("tok_" + RandomNumberGenerator.GetHexString(8, lowercase: true), name, TokenScope.Admin, Start, null, null);

    /// <summary>What the runbook does: copy only the main file (no -wal beside it), then use the copy as the database.</summary>
    private string PlainCopy(string database)
    {
        var copy = Path.Combine(_directory, "restored-" + Path.GetFileName(database));
        File.Copy(database, copy);
        Assert.False(File.Exists(copy + "-wal"));
        return copy;
    }

    [Fact]
    public async Task A_token_revoked_just_before_a_plain_copy_stays_revoked_when_the_copy_is_restored()
    {
        using var store = new TokenStore(new SqliteDatabase(AuthPath));
        await store.InitializeAsync(Token);
        var kept = NewToken("kept");
        var revoked = NewToken("revoked");
        var keptSecret = RandomNumberGenerator.GetBytes(32);
        await store.InsertAsync(kept, keptSecret, Token);
        await store.InsertAsync(revoked, RandomNumberGenerator.GetBytes(32), Token);
        // The server's kept-open authentication connection (and the pool) keep the WAL alive, as in a running server.
        Assert.NotNull(await store.FindByHashAsync(keptSecret, Token));
        await store.DeleteAsync(revoked.Id, null, Token);
        await store.UpdateLastUsedAsync([new(kept.Id, Start.AddHours(1))], Token);

        var copy = PlainCopy(AuthPath);
        using var restored = new TokenStore(new SqliteDatabase(copy));
        var tokens = await restored.ListAsync(Token);

        Assert.Equal([kept.Id], tokens.Select(token => token.Id));
        Assert.Equal(Start.AddHours(1), tokens[0].LastUsedAt);
    }

    [Fact]
    public async Task A_schedule_change_made_just_before_a_plain_copy_is_in_the_copy()
    {
        var path = Path.Combine(_directory, "schedules.db");
        var time = new FakeTimeProvider(Start);
        var store = new ScheduleStore(new SqliteDatabase(path, foreignKeys: true), time);
        await store.InitializeAsync(Token);
        var schedule = new Schedule("sch_0123456789abcdef", "nightly", "*/5 * * * *", null, "check", [new ScheduleTarget(Guid.NewGuid(), null)],
            true, OverlapBehavior.Skip, SessionBehavior.New, null, null, null, "tok_creator1", Start, Start, Start.AddMinutes(5), null);
        await store.InsertAsync(schedule, Token);
        await using var held = await store.Database.OpenAsync(Token);
        await store.DisableAsync(schedule.Id, "creator token revoked", Token);

        var copy = PlainCopy(path);
        var restored = await new ScheduleStore(new SqliteDatabase(copy, foreignKeys: true), time).GetAsync(schedule.Id, Token);

        Assert.NotNull(restored);
        Assert.False(restored.Enabled);
        Assert.Equal("creator token revoked", restored.DisabledReason);
    }

    [Fact]
    public async Task An_auth_database_from_before_schema_versions_is_migrated_keeping_its_tokens()
    {
        await using (var legacy = new SqliteConnection($"Data Source={AuthPath};Pooling=False"))
        {
            await legacy.OpenAsync(Token);
            await using var command = legacy.CreateCommand();
            command.CommandText = $"{TokenStore.Migrations[0]} INSERT INTO tokens VALUES ('tok_legacy1', 'old', 'admin', x'00', '2026-01-01T00:00:00.0000000Z', NULL, NULL);";
            await command.ExecuteNonQueryAsync(Token);
        }

        using var store = new TokenStore(new SqliteDatabase(AuthPath));
        await store.InitializeAsync(Token);

        Assert.Equal(["tok_legacy1"], (await store.ListAsync(Token)).Select(token => token.Id));
        Assert.Equal(TokenStore.Migrations.Count, await store.Database.ReadVersionAsync(Token));
    }

    [Fact]
    public async Task An_auth_database_from_a_newer_release_is_refused_with_a_clear_error_and_left_as_it_is()
    {
        using (var store = new TokenStore(new SqliteDatabase(AuthPath)))
        {
            await store.InitializeAsync(Token);
            await using var connection = await store.Database.OpenAsync(Token);
            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version = 5;";
            await command.ExecuteNonQueryAsync(Token);
        }

        using var newer = new TokenStore(new SqliteDatabase(AuthPath));
        var refused = await Assert.ThrowsAsync<ConflictException>(() => newer.InitializeAsync(Token));

        Assert.Contains($"{AuthPath} has schema version 5, newer than the 1 this release knows", refused.Message, StringComparison.Ordinal);
        Assert.Contains("refuses to use data it does not understand", refused.Message, StringComparison.Ordinal);
        Assert.Equal(5, await newer.Database.ReadVersionAsync(Token));
    }
}
