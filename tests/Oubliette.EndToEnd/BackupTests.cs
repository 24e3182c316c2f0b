using System.Text.RegularExpressions;
using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>
/// Issue 15's backup acceptance on the real executable: backup create, the project deleted and its token revoked, a
/// restore refused while the server runs and for a corrupt archive, then done with the server stopped; after a start the
/// project, its session's metadata and its token are back.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class BackupTests(DockerEnvironment docker)
{
    [Fact]
    public async Task Backup_then_delete_then_restore_with_the_server_stopped_brings_back_the_project_its_sessions_and_tokens()
    {
        var model = await ScriptedModelServer.StartAsync();
        await using var server = await ServerProcess.StartAsync(docker, SessionFixture.Config(model.BaseUrl), model);
        var root = server.Home.Root;
        var project = await server.CreateProjectAsync("kept-safe");
        model.Enqueue(ScriptStep.Reply("noted"));
        var sessionId = await server.RunTurnAsync(server.Admin, project, "Remember this");
        var created = await server.Admin.CallAsync("token", new { action = "create", name = "project-bot", scope = $"project:{project:D}" });
        Assert.False(created.IsError, created.Text);
        var tokenId = created.Json.GetProperty("token").GetProperty("id").GetString()!;
        var secret = created.Json.GetProperty("secret").GetString()!;

        var backup = await OublietteProcess.RunAsync(["backup", "create", "--project", project.ToString("D"), "--dir", root]);
        Assert.True(backup.ExitCode == 0, backup.Error);
        var archive = Regex.Match(backup.Output, @"to (\S+\.tar\.gz)").Groups[1].Value;
        var corrupt = Path.Combine(root, "corrupt.tar.gz");
        var bytes = await File.ReadAllBytesAsync(archive);
        await File.WriteAllBytesAsync(corrupt, bytes[..(bytes.Length / 2)]);
        var verified = await OublietteProcess.RunAsync(["backup", "verify", Path.GetFileName(archive), "--dir", root]);
        var verifyCorrupt = await OublietteProcess.RunAsync(["backup", "verify", corrupt, "--dir", root]);
        var listed = await OublietteProcess.RunAsync(["backup", "list", "--dir", root]);

        var deleted = await server.Admin.CallAsync("project", new { action = "delete", project_id = project.ToString("D"), force = true });
        Assert.False(deleted.IsError, deleted.Text);
        var revoked = await server.Admin.CallAsync("token", new { action = "revoke", token_id = tokenId });
        Assert.False(revoked.IsError, revoked.Text);
        var whileRunning = await OublietteProcess.RunAsync(["backup", "restore", archive, "--dir", root]);
        CommandResult restoreCorrupt = null!;
        CommandResult restored = null!;
        await server.StopAndStartAsync(async () =>
        {
            restoreCorrupt = await OublietteProcess.RunAsync(["backup", "restore", corrupt, "--dir", root]);
            Assert.False(Directory.Exists(Path.Combine(server.Home.Home.ProjectsDirectory, project.ToString("D"))));
            restored = await OublietteProcess.RunAsync(["backup", "restore", archive, "--project", project.ToString("D"), "--dir", root]);
        });

        var got = await server.Admin.CallAsync("project", new { action = "get", project_id = project.ToString("D") });
        var session = await server.Admin.CallAsync("session", new { action = "get", session_id = sessionId });
        await using var projectClient = await server.ConnectAsync(secret);
        var asProject = await projectClient.CallAsync("project", new { action = "get", project_id = project.ToString("D") });

        Assert.True(verified.ExitCode == 0, verified.Error);
        Assert.Contains($"holds project {project:D}", verified.Output, StringComparison.Ordinal);
        Assert.Contains(Path.GetFileName(archive), listed.Output, StringComparison.Ordinal);
        Assert.Equal(1, verifyCorrupt.ExitCode);
        Assert.Contains($"backup archive {corrupt} is corrupt or not an Oubliette backup", verifyCorrupt.Error, StringComparison.Ordinal);
        Assert.Equal(1, whileRunning.ExitCode);
        Assert.Contains("a restore needs the server stopped: run 'oubliette stop'", whileRunning.Error, StringComparison.Ordinal);
        Assert.Equal(1, restoreCorrupt.ExitCode);
        Assert.Contains("is corrupt or not an Oubliette backup", restoreCorrupt.Error, StringComparison.Ordinal);
        Assert.True(restored.ExitCode == 0, restored.Error + restored.Output);
        Assert.Contains(tokenId, restored.Output, StringComparison.Ordinal);
        Assert.False(got.IsError, got.Text);
        Assert.Equal("kept-safe", got.Json.GetProperty("project").GetProperty("name").GetString());
        Assert.False(session.IsError, session.Text);
        Assert.Equal(project, session.Json.GetProperty("session").GetProperty("project_id").GetGuid());
        Assert.False(asProject.IsError, asProject.Text);
    }
}
