using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Operations;
using Oubliette.Storage;

namespace Oubliette.Testing;

/// <summary>A throw-away Oubliette home under /tmp with a config and an admin token; deleted on dispose.</summary>
public sealed class TestHome : IAsyncDisposable
{
    /// <summary>The init template, listening on a free loopback port.</summary>
    public static string DefaultConfig => ConfigTemplate.Text.Replace("\"127.0.0.1:8080\"", "\"127.0.0.1:0\"", StringComparison.Ordinal);

    private TestHome(OublietteHome home, string adminSecret)
    {
        Home = home;
        AdminSecret = adminSecret;
    }

    public OublietteHome Home { get; }
    public string Root => Home.Root;
    public string AdminSecret { get; }

    public static async Task<TestHome> CreateAsync(string? configText = null, TimeProvider? time = null)
    {
        var root = Path.Combine(Path.GetTempPath(), "oubliette-test-" + Guid.NewGuid().ToString("N")[..12]);
        var home = new OublietteHome(root);
        Directory.CreateDirectory(home.ConfigDirectory);
        home.EnsureDataDirectories();
        // Owner-only from the start, as 'oubliette init' writes it: the server refuses a config others may read.
        await AtomicFile.WriteTextAsync(home.ConfigFile, configText ?? DefaultConfig, CancellationToken.None);
        var tokens = OpenTokens(home, time ?? TimeProvider.System);
        await tokens.Store.InitializeAsync(CancellationToken.None);
        var admin = await tokens.Service.CreateAsync("test-admin", "admin", null, "test", CancellationToken.None);
        return new TestHome(home, admin.Secret);
    }

    /// <summary>Direct access to this home's token database, as the CLI has it.</summary>
    public static (TokenStore Store, TokenService Service) OpenTokens(OublietteHome home, TimeProvider time)
    {
        var store = new TokenStore(new SqliteDatabase(home.AuthDatabase));
        return (store, new TokenService(store, new LastUsedTracker(store), new AuditLog(home.AuditLog, time), time));
    }

    public async Task<string> CreateTokenAsync(string scope, string? expires = null, TimeProvider? time = null)
    {
        var tokens = OpenTokens(Home, time ?? TimeProvider.System);
        var created = await tokens.Service.CreateAsync("test-" + scope.Replace(':', '-'), scope, expires, "test", CancellationToken.None);
        return created.Secret;
    }

    public ValueTask DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Already gone: a test may delete parts of the home on purpose.
        }

        return ValueTask.CompletedTask;
    }
}
