using Oubliette.Configuration;
using Oubliette.Projects;
using Oubliette.Testing;

namespace Oubliette.Tests.Projects;

/// <summary>Deleting a project folder while a session's state save still writes into it.</summary>
public sealed class ProjectStoreDeleteTests
{
    [Fact]
    public async Task Delete_succeeds_while_files_keep_appearing_in_the_folder_for_a_moment()
    {
        await using var home = await TestHome.CreateAsync();
        var paths = new ProjectPaths(home.Home, ConfigParser.Load(home.Home.ConfigFile));
        var store = new ProjectStore(paths);
        var id = Guid.NewGuid();
        var sessions = Directory.CreateDirectory(Path.Combine(paths.Directory(id), "sessions")).FullName;
        for (var i = 0; i < 2000; i++)
        {
            await File.WriteAllTextAsync(Path.Combine(sessions, $"old-{i}.json"), "{}");
        }

        // A late writer, as a session's state save in flight: new files for a short while after the delete starts.
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(60));
        var writer = Task.Run(() =>
        {
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    File.WriteAllText(Path.Combine(sessions, $"late-{n++}.json"), "{}");
                }
                catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
                {
                    // The folder is gone: the save comes too late, which the cleanup's run_files handles.
                    return;
                }
            }
        });

        await store.DeleteAsync(id, CancellationToken.None);
        await writer;
        if (Directory.Exists(paths.Directory(id)))
        {
            // A save after the delete's last walk may recreate nothing but what it wrote; never the old files.
            Assert.Empty(Directory.GetFiles(sessions, "old-*"));
        }
    }
}
