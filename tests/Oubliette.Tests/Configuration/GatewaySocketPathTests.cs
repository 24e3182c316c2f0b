using System.Net.Sockets;
using Oubliette.Configuration;
using Oubliette.Gateway;

namespace Oubliette.Tests.Configuration;

/// <summary>server.gateway_socket at start-up: every problem named, and nothing but a stale socket ever touched.</summary>
public sealed class GatewaySocketPathTests : IDisposable
{
    private const UnixFileMode Mode0711 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "oubliette-gw-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly OublietteHome _home;

    public GatewaySocketPathTests()
    {
        _home = new OublietteHome(Path.Combine(_root, "home"));
        _home.EnsureDataDirectories();
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static ServerConfig Server(string? socket) => ConfigParser.Parse("{}", "t").Server with { GatewaySocket = socket };

    private string Folder(string name, UnixFileMode mode = Mode0711)
    {
        var folder = Path.Combine(_root, name);
        Directory.CreateDirectory(folder);
        File.SetUnixFileMode(folder, mode);
        return folder;
    }

    private ConfigException Refused(string socket)
    {
        var exception = Assert.Throws<ConfigException>(() => GatewaySocketPath.Prepare(_home, Server(socket)));
        Assert.All(exception.Errors, error => Assert.Equal("server.gateway_socket", error.Path));
        return exception;
    }

    [Fact]
    public void An_existing_regular_file_is_refused_and_left_alone_with_its_folder()
    {
        var folder = Folder("files");
        var file = Path.Combine(folder, "precious.txt");
        File.WriteAllText(file, "keep me");

        var exception = Refused(file);

        Assert.Contains(exception.Errors, error => error.Reason.Contains($"'{file}' exists and is a regular file, not a socket left by an earlier run", StringComparison.Ordinal));
        Assert.Equal("keep me", File.ReadAllText(file));
        Assert.Equal(Mode0711, File.GetUnixFileMode(folder));
    }

    [Fact]
    public void A_folder_that_is_a_link_is_refused_and_neither_it_nor_its_target_changes()
    {
        var target = Folder("real", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var link = Path.Combine(_root, "link");
        File.CreateSymbolicLink(link, target);

        var exception = Refused(Path.Combine(link, "gw.sock"));

        Assert.Contains(exception.Errors, error => error.Reason == $"the folder '{link}' is a symbolic link: name the real folder it points to");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(target));
        Assert.Empty(Directory.GetFileSystemEntries(target));
    }

    [Theory]
    [InlineData(UnixFileMode.GroupWrite)]
    [InlineData(UnixFileMode.OtherWrite)]
    [InlineData(UnixFileMode.OtherWrite | UnixFileMode.StickyBit)]
    public void A_group_or_world_writable_folder_is_refused_and_keeps_its_mode(UnixFileMode extra)
    {
        var mode = Mode0711 | UnixFileMode.GroupRead | UnixFileMode.OtherRead | extra;
        var folder = Folder("shared", mode);

        var exception = Refused(Path.Combine(folder, "gw.sock"));

        Assert.Contains(exception.Errors, error => error.Reason.Contains($"the folder '{folder}' is group- or world-writable (mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')})", StringComparison.Ordinal));
        Assert.Equal(mode, File.GetUnixFileMode(folder));
    }

    [Fact]
    public void A_path_over_107_bytes_is_refused_with_its_length()
    {
        var folder = Folder("long");
        var socket = Path.Combine(folder, new string('s', 120) + ".sock");

        var exception = Refused(socket);

        var bytes = System.Text.Encoding.UTF8.GetByteCount(socket);
        Assert.Contains(exception.Errors, error => error.Reason == $"'{socket}' is {bytes} bytes long; a unix socket path holds at most 107 bytes: choose a shorter path");
    }

    [Fact]
    public void A_missing_folder_is_refused_and_not_created()
    {
        var folder = Path.Combine(_root, "absent");

        var exception = Refused(Path.Combine(folder, "gw.sock"));

        Assert.Contains(exception.Errors, error => error.Reason.StartsWith($"the folder '{folder}' does not exist", StringComparison.Ordinal));
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void Every_problem_is_listed_at_once()
    {
        var folder = Folder("many", Mode0711 | UnixFileMode.OtherWrite);
        var file = Path.Combine(folder, new string('f', 110));
        File.WriteAllText(file, "x");

        var exception = Refused(file);

        Assert.Equal(3, exception.Errors.Count);
        Assert.Contains("3 problems", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "must not be empty")]
    [InlineData("~/gw.sock", "'~' is not expanded")]
    [InlineData("/run/", "names a folder")]
    public void A_malformed_value_is_refused(string socket, string fragment)
    {
        var exception = Refused(socket);

        Assert.Contains(exception.Errors, error => error.Reason.Contains(fragment, StringComparison.Ordinal));
    }

    [Fact]
    public void A_stale_socket_is_removed_but_a_live_one_is_refused()
    {
        var folder = Folder("sockets");
        var socket = Path.Combine(folder, "gw.sock");
        using (var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            listener.Bind(new UnixDomainSocketEndPoint(socket));
            listener.Listen();

            var live = Refused(socket);

            Assert.Contains(live.Errors, error => error.Reason.Contains("another process is listening on", StringComparison.Ordinal));
        }

        LeaveStaleSocket(socket);
        Assert.True(File.Exists(socket));
        Assert.Equal(socket, GatewaySocketPath.Prepare(_home, Server(socket)));
        Assert.False(File.Exists(socket));
        Assert.Equal(Mode0711, File.GetUnixFileMode(folder));
    }

    [Fact]
    public void The_default_folder_is_created_0711_and_a_stale_socket_there_survives_restarts()
    {
        var first = GatewaySocketPath.Prepare(_home, Server(null));
        LeaveStaleSocket(first);
        Assert.True(File.Exists(first));

        var second = GatewaySocketPath.Prepare(_home, Server(null));

        Assert.Equal(_home.DefaultGatewaySocket, second);
        Assert.False(File.Exists(second));
        Assert.Equal(Mode0711, File.GetUnixFileMode(Path.GetDirectoryName(second)!));
    }

    /// <summary>A socket file nobody listens on, as a crashed server leaves it (.NET unlinks its own on dispose).</summary>
    private void LeaveStaleSocket(string path)
    {
        var bound = Path.Combine(_root, "bound-" + Guid.NewGuid().ToString("N")[..6] + ".sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(bound));
        File.Move(bound, path);
    }

    [Fact]
    public void A_relative_path_is_resolved_in_the_home()
    {
        Directory.CreateDirectory(Path.Combine(_home.Root, "gw"));
        File.SetUnixFileMode(Path.Combine(_home.Root, "gw"), Mode0711);

        Assert.Equal(Path.Combine(_home.Root, "gw", "g.sock"), GatewaySocketPath.Prepare(_home, Server("gw/g.sock")));
    }
}
