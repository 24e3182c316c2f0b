using System.CommandLine;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Operations;
using Oubliette.Storage;

namespace Oubliette.Cli;

/// <summary>What every verb shares: the <c>--dir</c> option, the output streams, the clock.</summary>
public sealed class CliContext(TextWriter output, TextWriter error, TimeProvider time)
{
    public Option<string?> DirOption { get; } = new("--dir")
    {
        Description = "Oubliette home (default: $OUBLIETTE_HOME, ./.oubliette, ~/.oubliette)",
        Recursive = true,
    };

    public TextWriter Out => output;
    public TextWriter Error => error;
    public TimeProvider Time => time;

    public OublietteHome ResolveHome(ParseResult parseResult) => OublietteHome.Resolve(
        parseResult.GetValue(DirOption),
        Environment.GetEnvironmentVariable,
        Environment.CurrentDirectory,
        Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    /// <summary>The home of an initialized installation; a clear error when <c>oubliette init</c> has not run.</summary>
    public OublietteHome RequireHome(ParseResult parseResult)
    {
        var home = ResolveHome(parseResult);
        if (!File.Exists(home.ConfigFile))
        {
            throw new NotFoundException($"no Oubliette home at {home.Root} (missing {home.ConfigFile}); run 'oubliette init' or pass --dir");
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
