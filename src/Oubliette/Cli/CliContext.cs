using System.CommandLine;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Operations;
using Oubliette.Storage;

namespace Oubliette.Cli;

/// <summary>
/// What every verb shares: the <c>--dir</c> option, the output streams, the clock, and the process environment
/// (variables, working directory, user home; tests pass their own).
/// </summary>
public sealed class CliContext(TextWriter output, TextWriter error, TimeProvider time,
    Func<string, string?>? environment = null, string? currentDirectory = null, string? userHome = null)
{
    public Option<string?> DirOption { get; } = new("--dir")
    {
        Description = "Oubliette home (default: $OUBLIETTE_HOME, ./.oubliette, the home ./run.sh recorded in /etc/oubliette/home, ~/.oubliette)",
        Recursive = true,
    };

    public TextWriter Out => output;
    public TextWriter Error => error;
    public TimeProvider Time => time;
    public Func<string, string?> Environment { get; } = environment ?? System.Environment.GetEnvironmentVariable;
    public string CurrentDirectory { get; } = currentDirectory ?? System.Environment.CurrentDirectory;
    public string UserHome { get; } = userHome ?? System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile);

    public OublietteHome ResolveHome(ParseResult parseResult) => OublietteHome.Resolve(
        parseResult.GetValue(DirOption),
        Environment,
        CurrentDirectory,
        UserHome,
        HomeRecord.From(Environment).Read());

    /// <summary>The home of an initialized installation; a clear error when <c>oubliette init</c> has not run.</summary>
    public OublietteHome RequireHome(ParseResult parseResult)
    {
        var home = ResolveHome(parseResult);
        if (!File.Exists(home.ConfigFile))
        {
            throw new NotFoundException($"no Oubliette home at {home.Root} (missing {home.ConfigFile}); run 'oubliette init' (or ./run.sh), or pass --dir");
        }

        return home;
    }

    public async Task<TokenService> OpenTokensAsync(OublietteHome home, CancellationToken cancellationToken)
    {
        home.EnsureDataDirectories();
        var store = new TokenStore(new SqliteDatabase(home.AuthDatabase));
        await store.InitializeAsync(cancellationToken);
        return new TokenService(store, new LastUsedTracker(store), new AuditLog(home.AuditLog, time), time);
    }
}
