using Oubliette.Cli;
using Oubliette.Configuration;

namespace Oubliette.Tests.Cli;

/// <summary>SPEC §2's home order with the home <c>./run.sh</c> records, and <c>--version</c> beside <c>--dir</c>.</summary>
public sealed class HomeResolutionTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("oubliette-home-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private OublietteHome Resolve(string? dir = null, string? environmentHome = null, bool localExists = false, string? recorded = null)
    {
        var cwd = Directory.CreateDirectory(Path.Combine(_root, localExists ? "with-local" : "without-local")).FullName;
        if (localExists)
        {
            Directory.CreateDirectory(Path.Combine(cwd, ".oubliette"));
        }

        return OublietteHome.Resolve(dir, name => name == OublietteHome.HomeEnvironmentVariable ? environmentHome : null, cwd, "/home/u", recorded);
    }

    [Fact]
    public void Each_source_wins_over_the_ones_after_it()
    {
        Assert.Equal("/d", Resolve(dir: "/d", environmentHome: "/e", localExists: true, recorded: "/r").Root);
        Assert.Equal("/e", Resolve(environmentHome: "/e", localExists: true, recorded: "/r").Root);
        Assert.Equal(Path.Combine(_root, "with-local", ".oubliette"), Resolve(localExists: true, recorded: "/r").Root);
        Assert.Equal("/r", Resolve(recorded: "/r").Root);
        Assert.Equal("/home/u/.oubliette", Resolve().Root);
    }

    [Fact]
    public void The_record_is_read_when_it_holds_an_absolute_path_and_ignored_otherwise()
    {
        var path = Path.Combine(_root, "home-record");
        var record = HomeRecord.From(name => name == HomeRecord.PathEnvironmentVariable ? path : null);

        var missing = record.Read();
        File.WriteAllText(path, "/srv/x\n");
        var recorded = record.Read();
        File.WriteAllText(path, "relative/x\n");
        var relative = record.Read();

        Assert.Equal(path, record.Path);
        Assert.Null(missing);
        Assert.Equal("/srv/x", recorded);
        Assert.Null(relative);
        Assert.Equal(HomeRecord.DefaultPath, HomeRecord.From(_ => null).Path);
    }

    [Fact]
    public async Task Commands_find_the_recorded_home_from_any_directory()
    {
        var home = Path.Combine(_root, "srv-home");
        var recordPath = Path.Combine(_root, "record");
        await File.WriteAllTextAsync(recordPath, home + "\n");
        var environment = new Dictionary<string, string> { [HomeRecord.PathEnvironmentVariable] = recordPath };
        using var output = new StringWriter();
        using var error = new StringWriter();
        var context = new CliContext(output, error, TimeProvider.System, name => environment.GetValueOrDefault(name),
            Directory.CreateDirectory(Path.Combine(_root, "elsewhere")).FullName, Path.Combine(_root, "user"));

        var init = await CliApp.RunAsync(["init"], context);
        var stop = await CliApp.RunAsync(["stop"], context);

        Assert.True(init == 0, error.ToString());
        Assert.True(File.Exists(Path.Combine(home, "config", "oubliette.jsonc")));
        Assert.Equal(0, stop);
        Assert.Contains($"oubliette is not running for {home}", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("nothing to stop", output.ToString(), StringComparison.Ordinal);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    [Theory]
    [InlineData(true, "--version")]
    [InlineData(true, "--dir", "/x", "--version")]
    [InlineData(true, "--version", "--dir=/x")]
    [InlineData(false, "--version", "status")]
    [InlineData(false, "--dir", "--version")]
    [InlineData(false, "status")]
    public void Version_is_answered_alone_or_beside_dir(bool expected, params string[] args) =>
        Assert.Equal(expected, CliApp.IsVersionRequest(args));
}
