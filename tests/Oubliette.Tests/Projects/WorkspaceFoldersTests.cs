using Oubliette.Projects;

namespace Oubliette.Tests.Projects;

public sealed class WorkspaceFoldersTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("oubliette-wsf-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private (string Workspace, string Outside) PlantLinks()
    {
        var outside = Directory.CreateDirectory(Path.Combine(_root, "outside")).FullName;
        File.WriteAllText(Path.Combine(outside, "keep.txt"), "keep");
        var workspace = Directory.CreateDirectory(Path.Combine(_root, "ws", "sub")).Parent!.FullName;
        Directory.CreateSymbolicLink(Path.Combine(workspace, "dirlink"), outside);
        Directory.CreateSymbolicLink(Path.Combine(workspace, "sub", "deeper"), outside);
        File.CreateSymbolicLink(Path.Combine(workspace, "filelink"), Path.Combine(outside, "keep.txt"));
        return (workspace, outside);
    }

    [Fact]
    public void Directory_Delete_removes_planted_links_without_following_them()
    {
        var (workspace, outside) = PlantLinks();

        Directory.Delete(workspace, recursive: true);

        Assert.False(Directory.Exists(workspace));
        Assert.Equal("keep", File.ReadAllText(Path.Combine(outside, "keep.txt")));
    }

    [Fact]
    public async Task Workspace_delete_removes_planted_links_without_following_them()
    {
        var (workspace, outside) = PlantLinks();

        await WorkspaceFolders.DeleteAsync(workspace, CancellationToken.None);

        Assert.False(Path.Exists(workspace));
        Assert.Equal("keep", await File.ReadAllTextAsync(Path.Combine(outside, "keep.txt")));
    }

    [Fact]
    public void Creating_an_agent_folder_over_a_planted_link_fails()
    {
        var outside = Directory.CreateDirectory(Path.Combine(_root, "outside")).FullName;
        var planted = Path.Combine(_root, "planted");
        Directory.CreateSymbolicLink(planted, outside);

        Assert.ThrowsAny<Exception>(() => WorkspaceFolders.CreateForAgent(planted, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
        Assert.ThrowsAny<Exception>(() => WorkspaceFolders.EnsureRoot(planted));
    }
}
