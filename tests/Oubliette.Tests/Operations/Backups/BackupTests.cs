using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Operations;
using Oubliette.Operations.Backups;
using Oubliette.Projects;
using Oubliette.Schedules;
using Oubliette.Storage;
using Oubliette.Testing;

namespace Oubliette.Tests.Operations.Backups;

/// <summary>Project archives: what goes in, verify and restore, refusal of corrupt and hostile archives, retention on a fake clock.</summary>
public sealed class BackupTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Start);
    private readonly Guid _project = Guid.NewGuid();
    private readonly Guid _workspace = Guid.NewGuid();
    private TestHome _home = null!;
    private ScheduleStore _schedules = null!;
    private TokenStore _tokens = null!;

    private static CancellationToken Token => CancellationToken.None;
    private OublietteHome Home => _home.Home;
    private string ProjectDirectory => Path.Combine(Home.ProjectsDirectory, _project.ToString("D"));
    private string BackupDirectory => Path.Combine(Home.DataDirectory, "backups");

    public async Task InitializeAsync()
    {
        _home = await TestHome.CreateAsync(time: _time);
        _tokens = new TokenStore(new SqliteDatabase(Home.AuthDatabase));
        await _tokens.InitializeAsync(Token);
        _schedules = new ScheduleStore(new SqliteDatabase(Home.SchedulesDatabase, foreignKeys: true), _time);
        await _schedules.InitializeAsync(Token);
        await WriteProjectAsync();
    }

    public async Task DisposeAsync()
    {
        _tokens.Dispose();
        await _home.DisposeAsync();
    }

    private async Task WriteProjectAsync()
    {
        var metadata = new ProjectMetadata
        {
            Id = _project, Name = "alpha", CreatedAt = Start, UpdatedAt = Start, Autonomy = "low", Reasoning = "low", ContainerType = "dev",
            InitGit = false, WorkspaceIsolation = false, Limits = new ProjectLimits(null, null, null), DefaultWorkspaceId = _workspace,
            Workspaces = [new WorkspaceMetadata(_workspace, null, null, Start)],
        };
        Directory.CreateDirectory(Path.Combine(ProjectDirectory, "sessions"));
        await File.WriteAllTextAsync(Path.Combine(ProjectDirectory, "metadata.json"), JsonSerializer.Serialize(metadata, ProjectJsonContext.Default.ProjectMetadata), Token);
        await File.WriteAllTextAsync(Path.Combine(ProjectDirectory, "sessions", "gogol_1.json"), """{"session_id":"gogol_1"}""", Token);
        Directory.CreateDirectory(Path.Combine(ProjectDirectory, "run"));
        await File.WriteAllTextAsync(Path.Combine(ProjectDirectory, "run", "agent.log"), "agent output", Token);
        var workspace = Path.Combine(ProjectDirectory, "workspaces", _workspace.ToString("D"));
        Directory.CreateDirectory(workspace);
        await File.WriteAllTextAsync(Path.Combine(workspace, "main.c"), "int main() {}", Token);
    }

    private BackupCreator Creator() => new(Home, BackupDirectory, _tokens.Database, _schedules.Database, _time);

    private async Task<string> CreateBackupAsync(bool includeWorkspaces = false) =>
        (await Creator().CreateAsync(_project, includeWorkspaces, Token)).Single().Path;

    private async Task<TokenRecord> ProjectTokenAsync(string name)
    {
        var token = new TokenRecord("tok_" + RandomNumberGenerator.GetHexString(8, lowercase: true), name, TokenScope.Project(_project), Start, null, null);
        await _tokens.InsertAsync(token, RandomNumberGenerator.GetBytes(32), Token);
        return token;
    }

    private Schedule NewSchedule(string name) => new(
        "sch_" + Guid.NewGuid().ToString("N")[..16], name, "*/5 * * * *", null, "check the build", [new ScheduleTarget(_project, null, "gogol_1")],
        true, OverlapBehavior.Queue, SessionBehavior.New, null, null, null, "tok_creator1", Start, Start, Start.AddMinutes(5), null);

    private static IReadOnlyList<string> EntryNames(string archive)
    {
        using var reader = new TarReader(new GZipStream(File.OpenRead(archive), CompressionMode.Decompress));
        var names = new List<string>();
        while (reader.GetNextEntry() is { } entry)
        {
            names.Add(entry.Name.TrimEnd('/'));
        }

        return names;
    }

    private static string[] FilesUnder(string folder) =>
        [.. Directory.EnumerateFileSystemEntries(folder, "*", SearchOption.AllDirectories).Select(path => Path.GetRelativePath(folder, path)).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task An_archive_is_owner_only_named_by_project_and_time_and_holds_metadata_sessions_and_databases_but_not_workspaces_or_run()
    {
        var archive = await CreateBackupAsync();
        var names = EntryNames(archive);

        Assert.Equal($"{_project:D}_20260301_080000.tar.gz", Path.GetFileName(archive));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(archive));
        Assert.Contains("project/metadata.json", names);
        Assert.Contains("project/sessions/gogol_1.json", names);
        Assert.Contains("databases/auth.db", names);
        Assert.Contains("databases/schedules.db", names);
        Assert.Equal("manifest.json", names[^1]);
        Assert.DoesNotContain(names, name => name.StartsWith("project/workspaces", StringComparison.Ordinal) || name.StartsWith("project/run", StringComparison.Ordinal));
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(BackupDirectory), path => path != archive);
        Assert.Contains("project/workspaces/" + _workspace.ToString("D") + "/main.c", EntryNames(await CreateBackupWithWorkspacesLaterAsync()));
    }

    private async Task<string> CreateBackupWithWorkspacesLaterAsync()
    {
        _time.Advance(TimeSpan.FromSeconds(1));
        return await CreateBackupAsync(includeWorkspaces: true);
    }

    [Fact]
    public async Task Restore_brings_back_the_deleted_project_with_its_sessions_tokens_and_schedules()
    {
        var token = await ProjectTokenAsync("project-bot");
        var schedule = NewSchedule("nightly");
        await _schedules.InsertAsync(schedule, Token);
        var archive = await CreateBackupAsync();
        await WorkspaceFolders.DeleteAsync(ProjectDirectory, Token);
        await _tokens.DeleteAsync(token.Id, null, Token);
        await _schedules.DeleteAsync(schedule.Id, Token);

        var verified = await BackupArchiveReader.ReadAsync(archive, null, Token);
        var report = await new BackupRestorer(Home, _time).RestoreAsync(archive, _project, Token);

        Assert.Equal(_project, verified.ProjectId);
        Assert.Equal(["metadata.json", "sessions", Path.Combine("sessions", "gogol_1.json"), "workspaces", Path.Combine("workspaces", _workspace.ToString("D"))], FilesUnder(ProjectDirectory));
        Assert.Equal([token.Id], report.Tokens);
        Assert.Contains(await _tokens.ListAsync(Token), listed => listed.Id == token.Id && listed.Scope == TokenScope.Project(_project));
        Assert.Equal(schedule.Targets, (await _schedules.GetAsync(schedule.Id, Token))?.Targets);
        Assert.Equal(1, report.Schedules);
        Assert.Equal(1, report.EmptyWorkspaces);
        Assert.Equal(ProjectContainers.AgentUid, UnixFiles.LStatus(Path.Combine(ProjectDirectory, "workspaces", _workspace.ToString("D")))?.Uid);
        Assert.False(File.Exists(Home.PidFile));
        Assert.Empty(Directory.EnumerateDirectories(Home.ProjectsDirectory, ".restore-*"));
    }

    [Fact]
    public async Task Restore_refuses_a_project_that_exists_and_one_other_than_the_named_project()
    {
        var archive = await CreateBackupAsync();

        var exists = await Assert.ThrowsAsync<ConflictException>(() => new BackupRestorer(Home, _time).RestoreAsync(archive, null, Token));
        var other = Guid.NewGuid();
        var mismatch = await Assert.ThrowsAsync<InvalidArgumentException>(() => new BackupRestorer(Home, _time).RestoreAsync(archive, other, Token));

        Assert.Contains($"project {_project:D} exists at {ProjectDirectory}; delete it first", exists.Message, StringComparison.Ordinal);
        Assert.Contains($"--project {other:D} does not match", mismatch.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Restore_refuses_while_a_server_answers_at_the_address_file_and_changes_nothing()
    {
        var archive = await CreateBackupAsync();
        await WorkspaceFolders.DeleteAsync(ProjectDirectory, Token);
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var answering = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync(Token);
            await using var stream = client.GetStream();
            var buffer = new byte[4096];
            _ = await stream.ReadAsync(buffer, Token);
            await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}"), Token);
        }, Token);
        await File.WriteAllTextAsync(Home.AddressFile, $"http://127.0.0.1:{port}", Token);

        var refused = await Assert.ThrowsAsync<ConflictException>(() => new BackupRestorer(Home, _time).RestoreAsync(archive, null, Token));
        await answering;

        Assert.Contains("oubliette is running", refused.Message, StringComparison.Ordinal);
        Assert.Contains("run 'oubliette stop'", refused.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(ProjectDirectory));
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("flipped")]
    [InlineData("garbage")]
    public async Task A_corrupt_archive_is_refused_by_verify_and_restore_and_nothing_changes(string damage)
    {
        var token = await ProjectTokenAsync("project-bot");
        var archive = await CreateBackupAsync();
        var bytes = await File.ReadAllBytesAsync(archive, Token);
        var damaged = damage switch
        {
            "truncated" => bytes[..(bytes.Length * 2 / 3)],
            "flipped" => FlipMiddle(bytes),
            _ => Encoding.ASCII.GetBytes("not a backup at all"),
        };
        await File.WriteAllBytesAsync(archive, damaged, Token);
        await WorkspaceFolders.DeleteAsync(ProjectDirectory, Token);
        await _tokens.DeleteAsync(token.Id, null, Token);

        var verify = await Assert.ThrowsAsync<CorruptBackupException>(() => BackupArchiveReader.ReadAsync(archive, null, Token));
        var restore = await Assert.ThrowsAsync<CorruptBackupException>(() => new BackupRestorer(Home, _time).RestoreAsync(archive, null, Token));

        Assert.Contains($"backup archive {archive} is corrupt or not an Oubliette backup", verify.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was changed", restore.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(ProjectDirectory));
        Assert.DoesNotContain(await _tokens.ListAsync(Token), listed => listed.Id == token.Id);
        Assert.Empty(Directory.EnumerateDirectories(Home.ProjectsDirectory));
    }

    private static byte[] FlipMiddle(byte[] bytes)
    {
        var copy = (byte[])bytes.Clone();
        copy[copy.Length / 2] ^= 0xff;
        return copy;
    }

    [Fact]
    public async Task Archiving_never_follows_a_link_planted_in_the_project_folder()
    {
        var secret = Path.Combine(Home.Root, "secret.txt");
        await File.WriteAllTextAsync(secret, "root's secret", Token);
        var workspace = Path.Combine(ProjectDirectory, "workspaces", _workspace.ToString("D"));
        File.CreateSymbolicLink(Path.Combine(workspace, "innocent.txt"), secret);
        Directory.CreateSymbolicLink(Path.Combine(workspace, "etc"), "/etc");
        File.CreateSymbolicLink(Path.Combine(ProjectDirectory, "sessions", "planted.json"), secret);

        var archive = await CreateBackupAsync(includeWorkspaces: true);
        var entries = new Dictionary<string, TarEntry>();
        var content = new StringBuilder();
        await using (var reader = new TarReader(new GZipStream(File.OpenRead(archive), CompressionMode.Decompress)))
        {
            while (await reader.GetNextEntryAsync(copyData: true, Token) is { } entry)
            {
                entries[entry.Name.TrimEnd('/')] = entry;
                if (entry.DataStream is { } data)
                {
                    content.Append(await new StreamReader(data).ReadToEndAsync(Token));
                }
            }
        }

        var prefix = $"project/workspaces/{_workspace:D}/";
        Assert.Equal(TarEntryType.SymbolicLink, entries[prefix + "innocent.txt"].EntryType);
        Assert.Equal(secret, entries[prefix + "innocent.txt"].LinkName);
        Assert.Equal(TarEntryType.SymbolicLink, entries[prefix + "etc"].EntryType);
        Assert.DoesNotContain(entries.Keys, name => name.StartsWith(prefix + "etc/", StringComparison.Ordinal));
        Assert.DoesNotContain("project/sessions/planted.json", entries.Keys);
        Assert.DoesNotContain("root's secret", content.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Attack_line_breaks_backslashes_overlong_names_terabytes_of_holes_and_hard_link_bombs_are_left_out_and_the_archive_still_verifies()
    {
        var workspace = Path.Combine(ProjectDirectory, "workspaces", _workspace.ToString("D"));
        await File.WriteAllTextAsync(Path.Combine(workspace, "evil\nname"), "x", Token);
        Directory.CreateDirectory(Path.Combine(workspace, "evil\nfolder"));
        await File.WriteAllTextAsync(Path.Combine(workspace, "evil\nfolder", "inside"), "y", Token);
        File.CreateSymbolicLink(Path.Combine(workspace, "odd-link"), "a\nb");
        await File.WriteAllTextAsync(Path.Combine(workspace, "back\\slash"), "z", Token);
        Directory.CreateDirectory(Path.Combine(workspace, new string('n', 250), new string('n', 250), new string('n', 250), new string('n', 250), new string('n', 250),
            new string('n', 250), new string('n', 250), new string('n', 250), new string('n', 250), new string('n', 250), new string('n', 250), new string('n', 250), new string('n', 250), new string('n', 250)));
        await using (var sparse = new FileStream(Path.Combine(workspace, "sparse.bin"), FileMode.CreateNew))
        {
            sparse.SetLength(1L << 40); // 1 TiB of holes: hours to read and compress.
        }

        await using (var small = new FileStream(Path.Combine(workspace, "small-holes.bin"), FileMode.CreateNew))
        {
            small.SetLength(1 << 20);
        }

        // 60 MiB on disk, read six times through its links: four further links fit the 256 MiB budget, the fifth not.
        await File.WriteAllBytesAsync(Path.Combine(workspace, "big"), new byte[60 << 20], Token);
        for (var link = 1; link <= 5; link++)
        {
            Assert.Equal(0, NativeLink(Path.Combine(workspace, "big"), Path.Combine(workspace, $"big{link}")));
        }

        var archive = (await Creator().CreateAsync(_project, includeWorkspaces: true, Token)).Single();

        await BackupArchiveReader.ReadAsync(archive.Path, null, Token);
        var prefix = $"project/workspaces/{_workspace:D}/";
        var names = EntryNames(archive.Path);
        Assert.Contains(prefix + "main.c", names);
        Assert.Contains(prefix + "small-holes.bin", names);
        Assert.DoesNotContain(names, name => name.Contains('\n', StringComparison.Ordinal) || name.EndsWith("/odd-link", StringComparison.Ordinal) || name.EndsWith("/sparse.bin", StringComparison.Ordinal));
        Assert.Equal(["big", "big1", "big2", "big3", "big4"], names.Where(name => name.StartsWith(prefix + "big", StringComparison.Ordinal)).Select(name => name[prefix.Length..]));
        Assert.DoesNotContain(names, name => name.Contains('\\', StringComparison.Ordinal) || name.Length > BackupArchiveWriter.MaxArchivedNameLength);
        Assert.Equal(7, archive.Skipped);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int NativeLink(string existing, string created);

    public static TheoryData<string, string> HostileEntries => new()
    {
        { "../escaped.txt", "is not a plain relative path" },
        { "project/../../escaped.txt", "is not a plain relative path" },
        { "/tmp/escaped.txt", "is not a plain relative path" },
        { "project/sessions/../../../escaped.txt", "is not a plain relative path" },
        { "elsewhere/escaped.txt", "is outside project/ and databases/" },
        { "project/workspaces/w/link/escaped.txt", "lies under 'project/workspaces/w/link', which is not a folder" },
        { "project/sessions/link", "is a symbolic link outside project/workspaces/" },
        { "project/hard", "is a HardLink" },
    };

    [Theory]
    [MemberData(nameof(HostileEntries))]
    public async Task Attack_a_hostile_archive_that_would_write_outside_its_folder_is_refused_and_nothing_is_written(string hostile, string reason)
    {
        var archive = await CreateBackupAsync();
        await WorkspaceFolders.DeleteAsync(ProjectDirectory, Token);
        var outside = Path.Combine(Path.GetTempPath(), "escaped.txt");
        File.Delete(outside);
        await RewriteWithAsync(archive, hostile);

        var verify = await Assert.ThrowsAsync<CorruptBackupException>(() => BackupArchiveReader.ReadAsync(archive, null, Token));
        var restore = await Assert.ThrowsAsync<CorruptBackupException>(() => new BackupRestorer(Home, _time).RestoreAsync(archive, null, Token));

        Assert.Contains(reason, verify.Message, StringComparison.Ordinal);
        Assert.Contains(reason, restore.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(outside));
        Assert.False(File.Exists(Path.Combine(Home.Root, "escaped.txt")));
        Assert.False(File.Exists(Path.Combine(Home.DataDirectory, "escaped.txt")));
        Assert.False(Directory.Exists(ProjectDirectory));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Home.ProjectsDirectory));
    }

    /// <summary>Copies the archive with hostile entries added before the manifest, and lists them in it with true checksums.</summary>
    private static async Task RewriteWithAsync(string archive, string hostile)
    {
        var entries = new List<(TarEntry Entry, byte[]? Data)>();
        BackupManifest? manifest = null;
        await using (var reader = new TarReader(new GZipStream(new MemoryStream(await File.ReadAllBytesAsync(archive)), CompressionMode.Decompress)))
        {
            while (await reader.GetNextEntryAsync(copyData: true) is { } entry)
            {
                var data = entry.DataStream is { } stream ? await ReadAllAsync(stream) : null;
                if (entry.Name == BackupManifest.EntryName)
                {
                    manifest = JsonSerializer.Deserialize(data, BackupJsonContext.Default.BackupManifest);
                }
                else
                {
                    entries.Add((entry, data));
                }
            }
        }

        var added = new List<BackupManifestEntry>();
        var payload = Encoding.UTF8.GetBytes("pwned");
        var payloadHash = Convert.ToHexStringLower(SHA256.HashData(payload));
        if (hostile.EndsWith("link/escaped.txt", StringComparison.Ordinal))
        {
            var link = hostile[..hostile.LastIndexOf('/')];
            entries.Add((new PaxTarEntry(TarEntryType.SymbolicLink, link) { LinkName = Path.GetTempPath() }, null));
            added.Add(new BackupManifestEntry(link, BackupManifestEntry.Symlink, 0, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetTempPath())))));
        }

        if (hostile.EndsWith("/link", StringComparison.Ordinal))
        {
            entries.Add((new PaxTarEntry(TarEntryType.SymbolicLink, hostile) { LinkName = "/etc/passwd" }, null));
            added.Add(new BackupManifestEntry(hostile, BackupManifestEntry.Symlink, 0, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("/etc/passwd")))));
        }
        else if (hostile.EndsWith("/hard", StringComparison.Ordinal))
        {
            entries.Add((new PaxTarEntry(TarEntryType.HardLink, hostile) { LinkName = "/etc/shadow" }, null));
            added.Add(new BackupManifestEntry(hostile, BackupManifestEntry.File, 0, null));
        }
        else
        {
            entries.Add((new PaxTarEntry(TarEntryType.RegularFile, hostile), payload));
            added.Add(new BackupManifestEntry(hostile, BackupManifestEntry.File, payload.Length, payloadHash));
        }

        var rewritten = manifest! with { Entries = [.. manifest.Entries, .. added] };
        await using var output = new GZipStream(File.Create(archive), CompressionLevel.Fastest);
        await using var writer = new TarWriter(output, TarEntryFormat.Pax);
        foreach (var (entry, data) in entries)
        {
            if (data is not null)
            {
                entry.DataStream = new MemoryStream(data);
            }

            await writer.WriteEntryAsync(entry);
        }

        await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, BackupManifest.EntryName)
        {
            DataStream = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(rewritten, BackupJsonContext.Default.BackupManifest)),
        });
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var memory = new MemoryStream();
        await stream.CopyToAsync(memory);
        return memory.ToArray();
    }

    [Fact]
    public async Task The_service_backs_up_first_after_one_interval_keeps_the_retention_count_and_sets_its_metrics()
    {
        var config = ConfigParser.Parse(TestHome.DefaultConfig.Replace("\"enabled\": false", "\"enabled\": true", StringComparison.Ordinal)
            .Replace("\"retention\": 7", "\"retention\": 2", StringComparison.Ordinal).Replace("\"interval_hours\": 24", "\"interval_hours\": 1", StringComparison.Ordinal), "test.jsonc");
        var metrics = new OublietteMetrics(Prometheus.Metrics.NewCustomRegistry());
        using var service = new BackupService(Home, config, _tokens, _schedules, metrics, _time, NullLogger<BackupService>.Instance);
        Assert.True(config.Defaults.Backup.Enabled, "the template's backup section changed; fix this test's replacements");

        await service.StartAsync(Token);
        _time.Advance(TimeSpan.FromMinutes(59));
        var beforeFirstInterval = BackupCatalog.List(BackupDirectory).Count;
        for (var hour = 0; hour < 4; hour++)
        {
            _time.Advance(TimeSpan.FromHours(1) - (hour == 0 ? TimeSpan.FromMinutes(59) : TimeSpan.Zero));
            await WaitForAsync(() => metrics.BackupRuns.WithLabels("success").Value == hour + 1);
        }

        await service.StopAsync(Token);

        Assert.Equal(0, beforeFirstInterval);
        Assert.Equal(["20260301_120000", "20260301_110000"], BackupCatalog.List(BackupDirectory).Select(file => file.CreatedAt.ToString("yyyyMMdd_HHmmss", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(Start.AddHours(4).ToUnixTimeSeconds(), metrics.BackupLastSuccess.Value);
        Assert.Equal(new FileInfo(BackupCatalog.List(BackupDirectory)[0].Path).Length, metrics.BackupLastSize.Value);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }

    [Theory]
    [InlineData("data/projects/backups", "is inside")]
    [InlineData("  ", "must not be empty")]
    public void A_backup_directory_that_cannot_work_is_a_start_up_error_naming_the_setting(string directory, string reason)
    {
        var error = Assert.Throws<ConfigException>(() => BackupLocation.Resolve(Home, new BackupConfig(true, directory, 7, 24)));

        Assert.Equal(BackupLocation.Field, Assert.Single(error.Errors).Path);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.Equal(Path.Combine(Home.Root, "data", "backups"), BackupLocation.Resolve(Home, new BackupConfig(true, "data/backups", 7, 24)));
    }
}
