using Oubliette.Cli;
using Oubliette.Configuration;
using Oubliette.Testing;

namespace Oubliette.Tests.Cli;

/// <summary>
/// Runs the CLI in-process on a test home, with a working directory, a user home and $XDG_CONFIG_HOME of its own (so
/// client config files land in temp folders) and no recorded home.
/// </summary>
internal sealed class CliHarness : IAsyncDisposable
{
    private readonly IReadOnlyDictionary<string, string> _environment;

    private CliHarness(TestHome home, string scratch)
    {
        Home = home;
        Scratch = scratch;
        WorkingDirectory = Directory.CreateDirectory(Path.Combine(scratch, "project")).FullName;
        UserHome = Directory.CreateDirectory(Path.Combine(scratch, "user")).FullName;
        ConfigHome = Path.Combine(UserHome, ".config");
        _environment = new Dictionary<string, string>
        {
            ["XDG_CONFIG_HOME"] = ConfigHome,
            [HomeRecord.PathEnvironmentVariable] = Path.Combine(scratch, "no-record"),
        };
    }

    public TestHome Home { get; }
    public string Scratch { get; }
    public string WorkingDirectory { get; }
    public string UserHome { get; }
    public string ConfigHome { get; }

    /// <summary>A home whose config listens on 127.0.0.1:8080 (the template), so that setup has a URL without a server.</summary>
    public static async Task<CliHarness> CreateAsync(string? config = null)
    {
        var home = await TestHome.CreateAsync(config ?? ConfigTemplate.Text);
        var scratch = Directory.CreateTempSubdirectory("oubliette-cli-").FullName;
        return new CliHarness(home, scratch);
    }

    public async Task<CommandResult> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var context = new CliContext(output, error, TimeProvider.System,
            name => _environment.GetValueOrDefault(name), WorkingDirectory, UserHome);
        var exitCode = await CliApp.RunAsync([.. args, "--dir", Home.Root], context);
        return new CommandResult(exitCode, output.ToString(), error.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        await Home.DisposeAsync();
        Directory.Delete(Scratch, recursive: true);
    }
}
