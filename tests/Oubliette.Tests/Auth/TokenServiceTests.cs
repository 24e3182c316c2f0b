using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Oubliette.Auth;
using Oubliette.Errors;
using Oubliette.Operations;
using Oubliette.Storage;

namespace Oubliette.Tests.Auth;

public sealed class TokenServiceTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("oubliette-tokens-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));
    private TokenStore _store = null!;
    private TokenService _tokens = null!;
    private LastUsedTracker _lastUsed = null!;

    public async Task InitializeAsync()
    {
        _store = new TokenStore(new SqliteDatabase(Path.Combine(_directory, "auth.db")), _time);
        await _store.InitializeAsync(CancellationToken.None);
        _lastUsed = new LastUsedTracker(_store);
        _tokens = new TokenService(_store, _lastUsed, new AuditLog(Path.Combine(_directory, "audit.log"), _time), _time);
    }

    public Task DisposeAsync()
    {
        _store.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Secret_has_the_documented_shape_and_only_its_sha256_is_stored()
    {
        var created = await _tokens.CreateAsync("ci", "admin", null, null, CancellationToken.None);

        Assert.Matches("^oub_[0-9a-f]{64}$", created.Secret);
        Assert.Matches("^tok_[a-z0-9]{8}$", created.Token.Id);
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(_directory, "auth.db")}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT secret_sha256 FROM tokens WHERE id = $id";
        command.Parameters.AddWithValue("$id", created.Token.Id);
        var stored = (byte[])(await command.ExecuteScalarAsync())!;
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(created.Secret)), stored);
    }

    [Fact]
    public async Task Secrets_are_unique()
    {
        var first = await _tokens.CreateAsync("a", "admin", null, null, CancellationToken.None);
        var second = await _tokens.CreateAsync("b", "admin", null, null, CancellationToken.None);

        Assert.NotEqual(first.Secret, second.Secret);
        Assert.NotEqual(first.Token.Id, second.Token.Id);
    }

    [Fact]
    public async Task Authenticate_accepts_the_secret_and_refuses_others()
    {
        var created = await _tokens.CreateAsync("ci", "admin:ro", null, null, CancellationToken.None);

        var (token, _) = await _tokens.AuthenticateAsync(created.Secret, CancellationToken.None);
        var (wrong, wrongReason) = await _tokens.AuthenticateAsync("oub_" + new string('0', 64), CancellationToken.None);
        var (garbage, garbageReason) = await _tokens.AuthenticateAsync("hello", CancellationToken.None);

        Assert.Equal(created.Token.Id, token?.Id);
        Assert.Equal(TokenScope.AdminReadOnly, token?.Scope);
        Assert.Null(wrong);
        Assert.Contains("unknown or revoked", wrongReason, StringComparison.Ordinal);
        Assert.Null(garbage);
        Assert.Contains("malformed", garbageReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Expired_token_is_refused_with_its_expiry()
    {
        var created = await _tokens.CreateAsync("short", "admin", "1h", null, CancellationToken.None);
        Assert.Equal(_time.GetUtcNow().AddHours(1), created.Token.ExpiresAt);
        Assert.NotNull((await _tokens.AuthenticateAsync(created.Secret, CancellationToken.None)).Token);

        _time.Advance(TimeSpan.FromMinutes(61));
        var (token, reason) = await _tokens.AuthenticateAsync(created.Secret, CancellationToken.None);

        Assert.Null(token);
        Assert.Contains("expired", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("90m", 90)]
    [InlineData("12h", 12 * 60)]
    [InlineData("30d", 30 * 24 * 60)]
    [InlineData("2w", 14 * 24 * 60)]
    public void Expiry_durations_parse(string text, int minutes) =>
        Assert.Equal(_time.GetUtcNow().AddMinutes(minutes), ExpiryParser.Parse(text, _time.GetUtcNow()));

    [Theory]
    [InlineData("0d")]
    [InlineData("tomorrow")]
    [InlineData("5y")]
    [InlineData("99999w")]
    [InlineData("2020-01-01T00:00:00Z")]
    public async Task Bad_expiry_is_refused_and_nothing_is_created(string expires)
    {
        var exception = await Assert.ThrowsAsync<InvalidArgumentException>(() => _tokens.CreateAsync("x", "admin", expires, null, CancellationToken.None));

        Assert.Contains($"expires '{expires}' is not valid", exception.Message, StringComparison.Ordinal);
        Assert.Empty(await _tokens.ListAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("-leading-dash")]
    [InlineData("semi;colon")]
    public async Task Bad_name_is_refused_and_nothing_is_created(string name)
    {
        var exception = await Assert.ThrowsAsync<InvalidArgumentException>(() => _tokens.CreateAsync(name, "admin", null, null, CancellationToken.None));

        Assert.Contains("name", exception.Message, StringComparison.Ordinal);
        Assert.Empty(await _tokens.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Bad_scope_is_refused_and_nothing_is_created()
    {
        await Assert.ThrowsAsync<InvalidArgumentException>(() => _tokens.CreateAsync("x", "project:nope", null, null, CancellationToken.None));
        Assert.Empty(await _tokens.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_token_revoked_by_another_process_is_refused_once_the_cache_may_be_stale_no_longer()
    {
        var created = await _tokens.CreateAsync("watched", "admin", null, null, CancellationToken.None);
        Assert.NotNull((await _tokens.AuthenticateAsync(created.Secret, CancellationToken.None)).Token);
        Assert.NotNull((await _tokens.AuthenticateAsync(created.Secret, CancellationToken.None)).Token);

        // A second store on the same file, as the CLI's 'token revoke' opens it.
        using var other = new TokenStore(new SqliteDatabase(Path.Combine(_directory, "auth.db")));
        await new TokenService(other, new LastUsedTracker(other), new AuditLog(Path.Combine(_directory, "audit.log"), _time), _time)
            .RevokeAsync(created.Token.Id, null, CancellationToken.None);
        _time.Advance(TokenStore.MaxStaleness);
        var (token, reason) = await _tokens.AuthenticateAsync(created.Secret, CancellationToken.None);

        Assert.Null(token);
        Assert.Equal("unknown or revoked token", reason);
    }

    [Fact]
    public async Task A_token_revoked_by_this_process_is_refused_at_once_even_when_the_cache_is_fresh()
    {
        var created = await _tokens.CreateAsync("watched", "admin", null, null, CancellationToken.None);
        Assert.NotNull((await _tokens.AuthenticateAsync(created.Secret, CancellationToken.None)).Token);

        await _tokens.RevokeAsync(created.Token.Id, null, CancellationToken.None);
        var (token, reason) = await _tokens.AuthenticateAsync(created.Secret, CancellationToken.None);

        Assert.Null(token);
        Assert.Equal("unknown or revoked token", reason);
    }

    [Fact]
    public async Task A_token_that_authenticated_is_refused_once_it_expires()
    {
        var created = await _tokens.CreateAsync("brief", "admin", "1h", null, CancellationToken.None);
        Assert.NotNull((await _tokens.AuthenticateAsync(created.Secret, CancellationToken.None)).Token);

        _time.Advance(TimeSpan.FromMinutes(61));
        var (token, reason) = await _tokens.AuthenticateAsync(created.Secret, CancellationToken.None);

        Assert.Null(token);
        Assert.Contains("expired at", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revoke_works_by_id_and_by_secret()
    {
        var byId = await _tokens.CreateAsync("a", "admin", null, null, CancellationToken.None);
        var bySecret = await _tokens.CreateAsync("b", "admin", null, null, CancellationToken.None);

        await _tokens.RevokeAsync(byId.Token.Id, null, CancellationToken.None);
        await _tokens.RevokeAsync(bySecret.Secret, null, CancellationToken.None);

        Assert.Empty(await _tokens.ListAsync(CancellationToken.None));
        Assert.Null((await _tokens.AuthenticateAsync(byId.Secret, CancellationToken.None)).Token);
        Assert.Null((await _tokens.AuthenticateAsync(bySecret.Secret, CancellationToken.None)).Token);
    }

    [Fact]
    public async Task Revoking_an_unknown_token_is_a_clear_error_and_changes_nothing()
    {
        var kept = await _tokens.CreateAsync("kept", "admin", null, null, CancellationToken.None);

        var exception = await Assert.ThrowsAsync<NotFoundException>(() => _tokens.RevokeAsync("tok_missing1", null, CancellationToken.None));

        Assert.Contains("token_id 'tok_missing1' not found", exception.Message, StringComparison.Ordinal);
        Assert.Equal(kept.Token.Id, Assert.Single(await _tokens.ListAsync(CancellationToken.None)).Id);
    }

    [Fact]
    public async Task Last_used_is_kept_in_memory_and_written_only_by_the_batched_flush()
    {
        var created = await _tokens.CreateAsync("ci", "admin", null, null, CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(5));

        await _tokens.AuthenticateAsync(created.Secret, CancellationToken.None);
        var storedBefore = Assert.Single(await _store.ListAsync(CancellationToken.None));
        var shownBefore = Assert.Single(await _tokens.ListAsync(CancellationToken.None));
        await _lastUsed.FlushAsync(CancellationToken.None);
        var storedAfter = Assert.Single(await _store.ListAsync(CancellationToken.None));

        Assert.Null(storedBefore.LastUsedAt);
        Assert.Equal(_time.GetUtcNow(), shownBefore.LastUsedAt);
        Assert.Equal(_time.GetUtcNow(), storedAfter.LastUsedAt);
    }
}
