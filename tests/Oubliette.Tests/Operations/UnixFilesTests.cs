using Oubliette.Operations;

namespace Oubliette.Tests.Operations;

/// <summary>The agent's configuration is written only through a root-owned folder, never through a link planted in it.</summary>
public sealed class UnixFilesTests : IDisposable
{
    private static readonly UnixFileMode ConfigMode = (UnixFileMode)Convert.ToInt32("640", 8);
    private readonly string _directory = Directory.CreateTempSubdirectory("oubliette-unix-files-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_file_is_written_with_its_final_owner_group_and_mode_and_replaces_a_planted_link_without_writing_through_it()
    {
        var folder = Path.Combine(_directory, "agent-config");
        UnixFiles.EnsureRootFolder(folder);
        var victim = Path.Combine(_directory, "victim");
        await File.WriteAllTextAsync(victim, "host file", CancellationToken.None);
        File.CreateSymbolicLink(Path.Combine(folder, "opencode.json"), victim);

        await UnixFiles.WriteInRootFolderAsync(folder, "opencode.json", "{\"secret\":1}", 1000, ConfigMode, CancellationToken.None);

        var written = UnixFiles.LStatus(Path.Combine(folder, "opencode.json"));
        Assert.Equal(new UnixFileStatus(UnixFileKind.Regular, 0, 1000, Convert.ToUInt32("640", 8)), written! with { Size = 0, AllocatedBytes = 0, Identity = default, Links = 0 });
        Assert.Equal("{\"secret\":1}", await File.ReadAllTextAsync(Path.Combine(folder, "opencode.json"), CancellationToken.None));
        Assert.Equal("host file", await File.ReadAllTextAsync(victim, CancellationToken.None));
        Assert.Equal(["opencode.json"], Directory.GetFileSystemEntries(folder).Select(Path.GetFileName));
    }

    [Fact]
    public void A_root_folder_is_made_0755_and_a_link_in_its_place_is_refused()
    {
        var folder = Path.Combine(_directory, "agent-socket");
        UnixFiles.EnsureRootFolder(folder);
        var elsewhere = Path.Combine(_directory, "elsewhere");
        Directory.CreateDirectory(elsewhere);
        var linked = Path.Combine(_directory, "linked");
        Directory.CreateSymbolicLink(linked, elsewhere);

        var refused = Assert.Throws<IOException>(() => UnixFiles.EnsureRootFolder(linked));

        Assert.Equal(new UnixFileStatus(UnixFileKind.Directory, 0, 0, Convert.ToUInt32("755", 8)), UnixFiles.LStatus(folder)! with { Size = 0, AllocatedBytes = 0, Identity = default, Links = 0 });
        Assert.StartsWith($"{linked} is a symbolic link owned by uid 0", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nothing_is_written_into_a_folder_the_agent_user_could_change()
    {
        var folder = Path.Combine(_directory, "run");
        UnixFiles.EnsureFolderOwnedBy(folder, 1000, 1000);

        var refused = await Assert.ThrowsAsync<IOException>(() =>
            UnixFiles.WriteInRootFolderAsync(folder, "opencode.json", "{}", 1000, ConfigMode, CancellationToken.None));

        Assert.Equal(1000u, UnixFiles.LStatus(folder)?.Uid);
        Assert.Contains("expected a directory owned by root, writable by root only", refused.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }
}
