using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using Oubliette.Containers;
using Oubliette.Projects;
using Oubliette.Testing;

namespace Oubliette.EndToEnd.Security;

/// <summary>
/// A hostile agent (a shell as <c>gogol</c> in its container) against issue 15's operations features: what it plants in
/// its workspace before the operator runs <c>backup create --include-workspaces</c> must neither be read through (links),
/// hang the backup (pipes), confuse the archive (odd names, deep trees) nor make it read terabytes (sparse files).
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class OperationsAttackTests(DockerEnvironment docker) : IAsyncLifetime
{
    private static readonly TimeSpan ExecTimeout = TimeSpan.FromSeconds(120);
    private SessionFixture _fixture = null!;
    private readonly string _victims = Directory.CreateTempSubdirectory("oubliette-victims-").FullName;

    // A cleanup pass a minute after start, removing what is a minute old: the cleanup attack sees one within its wait.
    public async Task InitializeAsync() => _fixture = await SessionFixture.StartAsync(docker, "\"cleanup\": {\"interval_minutes\": 1, \"retention_minutes\": 1}");

    public async Task DisposeAsync()
    {
        await _fixture.DisposeAsync();
        Directory.Delete(_victims, recursive: true);
    }

    [Fact]
    public async Task Backup_with_workspaces_keeps_planted_links_as_links_skips_pipes_and_sockets_and_reads_nothing_outside_the_project()
    {
        var marker = $"HOST-SECRET-{Guid.NewGuid():N}";
        var victim = Path.Combine(_victims, "host-secret");
        await File.WriteAllTextAsync(victim, marker + "\n");
        File.SetUnixFileMode(victim, (UnixFileMode)Convert.ToInt32("644", 8));
        Directory.CreateDirectory(Path.Combine(_victims, "host-dir"));
        await File.WriteAllTextAsync(Path.Combine(_victims, "host-dir", "inside"), marker + "\n");
        var other = await _fixture.Server.CreateProjectAsync("other-project");
        var otherFolder = _fixture.Server.ProjectDirectory(other.Id);
        await File.WriteAllTextAsync(Path.Combine(otherFolder, "workspaces", other.DefaultWorkspace.ToString("D"), "theirs.txt"), marker + "\n");

        var workspace = $"/workspace/{_fixture.WorkspaceId:D}";
        var planted = await AsAgentAsync(
            $"cd {workspace} && ln -s {victim} link-to-host-file && ln -s {_victims}/host-dir link-to-host-dir && ln -s /etc/shadow link-to-shadow"
            + $" && ln -s {otherFolder} link-to-other-project && ln -s . loop && mkfifo fifo"
            + " && python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.bind(\"sock\")' 2>/dev/null; "
            + " printf 'x' > \"$(printf 'evil\\nname')\" && printf 'y' > '...' && printf 'z' > ' -rf' && printf 'w' > 'manifest.json'"
            + " && mkdir -p $(for i in $(seq 60); do printf 'deep%d/' $i; done) && echo bottom > $(for i in $(seq 60); do printf 'deep%d/' $i; done)bottom.txt"
            + " && ls -la");
        Assert.True(planted.ExitCode == 0, planted.Stderr + planted.Stdout);

        var backup = await OublietteProcess.RunAsync(
            ["backup", "create", "--project", _fixture.ProjectId.ToString("D"), "--include-workspaces", "--dir", _fixture.Server.Home.Root], TimeSpan.FromSeconds(120));
        Assert.True(backup.ExitCode == 0, backup.Error + backup.Output);
        var archive = Regex.Match(backup.Output, @"to (\S+\.tar\.gz)").Groups[1].Value;
        var verified = await OublietteProcess.RunAsync(["backup", "verify", archive, "--dir", _fixture.Server.Home.Root]);
        Assert.True(verified.ExitCode == 0, verified.Error + verified.Output);

        var entries = await ReadArchiveAsync(archive);
        var prefix = $"project/workspaces/{_fixture.WorkspaceId:D}/";
        Assert.DoesNotContain(entries, entry => entry.Content.Contains(marker, StringComparison.Ordinal));
        Assert.Equal((TarEntryType.SymbolicLink, victim), Describe(entries, prefix + "link-to-host-file"));
        Assert.Equal((TarEntryType.SymbolicLink, "/etc/shadow"), Describe(entries, prefix + "link-to-shadow"));
        Assert.Equal((TarEntryType.SymbolicLink, otherFolder), Describe(entries, prefix + "link-to-other-project"));
        Assert.Equal((TarEntryType.SymbolicLink, "."), Describe(entries, prefix + "loop"));
        Assert.DoesNotContain(entries, entry => entry.Name.StartsWith(prefix + "link-to-host-dir/", StringComparison.Ordinal) || entry.Name.StartsWith(prefix + "loop/", StringComparison.Ordinal));
        Assert.DoesNotContain(entries, entry => entry.Name is var name && (name == prefix + "fifo" || name == prefix + "sock"));
        Assert.DoesNotContain(entries, entry => entry.Name.Contains(other.Id.ToString("D"), StringComparison.Ordinal));
        // A line break in a name made the whole archive unreadable (TarReader splits PAX records at line breaks): left out.
        Assert.DoesNotContain(entries, entry => entry.Name.Contains('\n', StringComparison.Ordinal));
        Assert.Contains("left out", backup.Output, StringComparison.Ordinal);
        Assert.Equal("y", entries.Single(entry => entry.Name == prefix + "...").Content);
        Assert.Equal("z", entries.Single(entry => entry.Name == prefix + " -rf").Content);
        Assert.Equal("w", entries.Single(entry => entry.Name == prefix + "manifest.json").Content);
        Assert.Single(entries, entry => entry.Name == "manifest.json");
        Assert.Contains(entries, entry => entry.Name.EndsWith("deep60/bottom.txt", StringComparison.Ordinal) && entry.Content == "bottom\n");
        Assert.Equal(marker + "\n", await File.ReadAllTextAsync(victim));
    }

    [Fact]
    public async Task Huge_sparse_files_and_hard_link_bombs_in_the_workspace_do_not_make_backup_read_terabytes()
    {
        var workspace = $"/workspace/{_fixture.WorkspaceId:D}";
        // 4 TiB of holes: a second of the agent's time, hours of the backup's if read.
        // And 40 hard links of one 10 MiB file: 410 MiB to read for 10 MiB of disk.
        var planted = await AsAgentAsync($"cd {workspace} && truncate -s 4T sparse.bin && echo kept > kept.txt && truncate -s 2M small-holes.bin"
            + " && head -c 10485760 /dev/zero > big && for i in $(seq 10 49); do ln big big$i; done && ls -ls | head");
        Assert.True(planted.ExitCode == 0, planted.Stderr + planted.Stdout);

        var started = DateTime.UtcNow;
        var backup = await OublietteProcess.RunAsync(
            ["backup", "create", "--project", _fixture.ProjectId.ToString("D"), "--include-workspaces", "--dir", _fixture.Server.Home.Root], TimeSpan.FromSeconds(180));
        var took = DateTime.UtcNow - started;
        Assert.True(backup.ExitCode == 0, backup.Error + backup.Output);
        var archive = Regex.Match(backup.Output, @"to (\S+\.tar\.gz)").Groups[1].Value;

        var entries = await ReadArchiveAsync(archive);
        var prefix = $"project/workspaces/{_fixture.WorkspaceId:D}/";
        Assert.DoesNotContain(entries, entry => entry.Name == prefix + "sparse.bin");
        Assert.Equal("kept\n", entries.Single(entry => entry.Name == prefix + "kept.txt").Content);
        // A file with a few holes (well within the budget) is still archived, holes as zeros.
        Assert.Equal(2 * 1024 * 1024, entries.Single(entry => entry.Name == prefix + "small-holes.bin").Length);
        // big, then 25 further links within the 256 MiB budget (250 MiB); the other 15 left out.
        Assert.Equal(26, entries.Count(entry => Regex.IsMatch(entry.Name, $"^{Regex.Escape(prefix)}big[0-9]*$")));
        Assert.Contains("left out 16 ", backup.Output, StringComparison.Ordinal);
        Assert.True(new FileInfo(archive).Length < 64 * 1024 * 1024, $"archive of {new FileInfo(archive).Length} bytes after {took}");
    }

    [Fact]
    public async Task A_project_token_can_neither_refresh_nor_read_the_logs_of_another_project_nor_clean_up_its_sessions()
    {
        // The fixture's project is the victim, with an ended session; the attacker holds a token of a project of its own.
        _fixture.Model.Enqueue(ScriptStep.Reply("victim's work"));
        var victimSession = await _fixture.SpawnAsync("Do the victim's work");
        await _fixture.WaitAsync(victimSession);
        var ended = await _fixture.Admin.CallAsync("session", new { action = "end", session_id = victimSession });
        Assert.False(ended.IsError, ended.Text);
        var attacker = await _fixture.Server.CreateProjectAsync("attacker");
        var token = await _fixture.Admin.CallAsync("token", new { action = "create", name = "attacker", scope = $"project:{attacker.Id:D}" });
        Assert.False(token.IsError, token.Text);
        await using var client = await _fixture.Server.ConnectAsync(token.Json.GetProperty("secret").GetString()!);
        var victim = _fixture.ProjectId.ToString("D");
        var containerBefore = await docker.Runtime.InspectAsync(ProjectContainers.NameOf(_fixture.ProjectId), CancellationToken.None);

        var refresh = await client.CallAsync("container", new { action = "refresh", project_id = victim, force = true });
        var stop = await client.CallAsync("container", new { action = "stop", project_id = victim });
        var logs = await client.CallAsync("container", new { action = "logs", project_id = victim });
        var cleanupVictim = await client.CallAsync("session", new { action = "cleanup", project_id = victim, max_age_hours = 0 });
        var cleanupAll = await client.CallAsync("session", new { action = "cleanup", max_age_hours = 0 });
        var resume = await client.CallAsync("session", new { action = "message", session_id = victimSession, message = "work for me now" });

        Assert.All([refresh, stop, logs, cleanupVictim, resume], result => Assert.True(result.IsError, result.Text));
        // Cleanup without a project: refused, or limited to the caller's own project; never the victim's sessions.
        var got = await _fixture.Admin.CallAsync("session", new { action = "get", session_id = victimSession });
        Assert.False(got.IsError, $"the victim's ended session was removed by another project's token: {cleanupAll.Text}");
        var containerAfter = await docker.Runtime.InspectAsync(ProjectContainers.NameOf(_fixture.ProjectId), CancellationToken.None);
        Assert.Equal(containerBefore?.Id, containerAfter?.Id);
        Assert.True(containerAfter?.Running, "the victim's container was stopped");
    }

    [Fact]
    public async Task Flooding_its_log_does_not_grow_the_engines_log_of_the_container_past_its_cap()
    {
        var name = ProjectContainers.NameOf(_fixture.ProjectId);
        var logPath = (await RunAsync("docker", "inspect", "-f", "{{.LogPath}}", name)).Trim();
        var marker = $"FLOOD-END-{Guid.NewGuid():N}";
        // 48 MiB of lines, more than the 3 × 10 MiB the engine keeps.
        var flooded = await AsAgentAsync($"head -c 50331648 /dev/zero | tr '\\0' a | fold -w 1023 >> /run/agent/agent.log && echo {marker} >> /run/agent/agent.log");
        Assert.True(flooded.ExitCode == 0, flooded.Stderr);

        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!(await RunAsync("docker", "logs", "--tail", "1", name)).Contains(marker, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, "the flood's last line never reached the engine's log");
            await Task.Delay(500);
        }

        var folder = Path.GetDirectoryName(logPath)!;
        var files = Directory.GetFiles(folder, Path.GetFileName(logPath) + "*");
        var total = files.Sum(file => new FileInfo(file).Length);
        Assert.True(total <= (ProjectContainers.LogMaxBytes * ProjectContainers.LogMaxFiles) + (1 << 20), $"{total} bytes in {string.Join(", ", files)}");
    }

    private static async Task<string> RunAsync(string file, params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return await output + await error;
    }

    [Fact]
    public async Task Temp_file_lookalikes_and_links_the_agent_plants_never_make_the_cleanup_pass_remove_anything_of_the_host()
    {
        var hex = Guid.NewGuid().ToString("N");
        var victim = Path.Combine(_victims, $"victim.{hex}.tmp");
        await File.WriteAllTextAsync(victim, "host file\n");
        File.SetLastWriteTimeUtc(victim, new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        var project = _fixture.Server.ProjectDirectory(_fixture.ProjectId);
        // The server's own crash leftover, old enough: the pass removes it, which shows the pass ran over this project.
        var leftover = Path.Combine(project, $"metadata.json.{hex}.tmp");
        await File.WriteAllTextAsync(leftover, "{}");
        File.SetLastWriteTimeUtc(leftover, new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc));

        var workspace = $"/workspace/{_fixture.WorkspaceId:D}";
        var planted = await AsAgentAsync(
            $"for d in /run/agent {workspace}; do ln -s {victim} $d/link.{hex}.tmp && ln -s {_victims} $d/folder.{hex}.tmp"
            + $" && echo mine > $d/own.{hex}.tmp && touch -h -d 2000-01-01 $d/link.{hex}.tmp $d/folder.{hex}.tmp $d/own.{hex}.tmp; done;"
            + $" echo x > /run/agent-config/planted.{hex}.tmp; ln -s {victim} /run/agent-socket/link.{hex}.tmp; ls -la /run/agent {workspace}");
        Assert.Contains($"own.{hex}.tmp", planted.Stdout, StringComparison.Ordinal);

        var deadline = DateTime.UtcNow.AddSeconds(150);
        while (File.Exists(leftover) || !Directory.GetFiles(_fixture.Server.Home.Home.LogsDirectory, "oubliette-*.log")
                   .Any(file => File.ReadAllText(file).Contains("cleanup pass removed", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "no cleanup pass within 150 s");
            await Task.Delay(1000);
        }

        Assert.Equal("host file\n", await File.ReadAllTextAsync(victim));
        Assert.True(Directory.Exists(_victims));
        foreach (var folder in new[] { Path.Combine(project, "run"), _fixture.HostWorkspace })
        {
            Assert.Equal(victim, new FileInfo(Path.Combine(folder, $"link.{hex}.tmp")).LinkTarget);
            Assert.Equal(_victims, new FileInfo(Path.Combine(folder, $"folder.{hex}.tmp")).LinkTarget);
            Assert.Equal("mine\n", await File.ReadAllTextAsync(Path.Combine(folder, $"own.{hex}.tmp")));
        }

        Assert.False(File.Exists(Path.Combine(project, "agent-config", $"planted.{hex}.tmp")));
        Assert.False(Path.Exists(Path.Combine(project, "agent-socket", $"link.{hex}.tmp")));
    }

    [Fact]
    public async Task A_tree_thousands_of_folders_deep_in_the_workspace_neither_crashes_nor_breaks_backup_create()
    {
        var workspace = $"/workspace/{_fixture.WorkspaceId:D}";
        // Built from the bottom up (the shell's cd gives up past PATH_MAX); past PATH_MAX (4096) and deeper than a stack of synchronous awaits or the open descriptors of a walk comfortably take.
        var planted = await AsAgentAsync($"cd {workspace} && mkdir d && echo bottom > d/bottom.txt && i=0; while [ $i -lt 3000 ]; do mkdir t && mv d t/d && mv t d || exit 1; i=$((i+1)); done");
        Assert.True(planted.ExitCode == 0, planted.Stderr + planted.Stdout);
        // A backslash is an ordinary character in a Linux name; the archive reader refuses it.
        var backslash = await AsAgentAsync($"cd {workspace} && echo b > 'back\\slash' && echo kept > kept.txt");
        Assert.True(backslash.ExitCode == 0, backslash.Stderr);

        CommandResult backup, verified;
        try
        {
            backup = await OublietteProcess.RunAsync(
                ["backup", "create", "--project", _fixture.ProjectId.ToString("D"), "--include-workspaces", "--dir", _fixture.Server.Home.Root], TimeSpan.FromSeconds(180));
            Assert.True(backup.ExitCode == 0, backup.Error + backup.Output);
            var archive = Regex.Match(backup.Output, @"to (\S+\.tar\.gz)").Groups[1].Value;
            verified = await OublietteProcess.RunAsync(["backup", "verify", archive, "--dir", _fixture.Server.Home.Root], TimeSpan.FromSeconds(120));
            var entries = await ReadArchiveAsync(archive);
            Assert.Equal("kept\n", entries.Single(entry => entry.Name == $"project/workspaces/{_fixture.WorkspaceId:D}/kept.txt").Content);
            Assert.DoesNotContain(entries, entry => entry.Name.Contains('\\', StringComparison.Ordinal) || entry.Name.Length > 4096);
        }
        finally
        {
            // The test home's own removal (.NET's recursive delete) cannot go that deep.
            await AsAgentAsync($"rm -rf {workspace}/d");
        }

        Assert.True(verified.ExitCode == 0, verified.Error + verified.Output);
        Assert.Contains("left out", backup.Output, StringComparison.Ordinal);
    }

    private sealed record ArchiveEntry(string Name, TarEntryType Type, string LinkName, long Length, string Content);

    private static (TarEntryType, string) Describe(List<ArchiveEntry> entries, string name)
    {
        var entry = entries.Single(candidate => candidate.Name == name);
        return (entry.Type, entry.LinkName);
    }

    /// <summary>Every entry; the content of files up to 1 MiB as text (larger ones: their length only).</summary>
    private static async Task<List<ArchiveEntry>> ReadArchiveAsync(string archive)
    {
        var entries = new List<ArchiveEntry>();
        await using var file = File.OpenRead(archive);
        await using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new TarReader(gzip);
        while (await reader.GetNextEntryAsync() is { } entry)
        {
            var content = "";
            var length = entry.Length;
            if (entry.DataStream is { } data && length <= 1024 * 1024)
            {
                using var text = new StreamReader(data, Encoding.UTF8, leaveOpen: true);
                content = await text.ReadToEndAsync();
            }

            entries.Add(new ArchiveEntry(entry.Name, entry.EntryType, entry.LinkName, length, content));
        }

        return entries;
    }

    private Task<ExecResult> AsAgentAsync(string command) =>
        docker.Runtime.ExecAsync(ProjectContainers.NameOf(_fixture.ProjectId), new ExecRequest(command, "gogol", "/", ExecTimeout), CancellationToken.None);
}
