using System.Net.Sockets;
using Oubliette.Agents.OpenCode;
using Oubliette.Errors;

namespace Oubliette.Tests.Agents;

/// <summary>
/// The server dials an agent's socket only when it is the relay's: a socket owned by root in a root-owned folder only
/// root can write, reached without following a link (an agent that plants a link would have the server dial whatever
/// the link names, another project's agent included).
/// </summary>
public sealed class AgentSocketTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("oubliette-agent-socket-").FullName;
    private readonly List<Socket> _listeners = [];

    public void Dispose()
    {
        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task A_root_owned_socket_in_a_root_owned_folder_is_connected()
    {
        var path = Listen(Folder("sockets"), "agent.sock");

        await using var stream = await AgentSocket.ConnectAsync(path, CancellationToken.None);
        using var accepted = await _listeners[0].AcceptAsync(CancellationToken.None);
        await stream.WriteAsync("hi"u8.ToArray(), CancellationToken.None);
        var received = new byte[2];
        await accepted.ReceiveAsync(received, CancellationToken.None);

        Assert.Equal("hi"u8.ToArray(), received);
    }

    [Fact]
    public void A_blocking_connect_checks_the_same_way()
    {
        var path = Listen(Folder("sockets"), "agent.sock");
        var link = Path.Combine(Folder("other"), "agent.sock");
        File.CreateSymbolicLink(link, path);

        using var stream = AgentSocket.Connect(path);
        var refused = Assert.Throws<ExternalFailureException>(() => AgentSocket.Connect(link));

        Assert.Contains("symbolic link", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_symbolic_link_to_a_real_listening_socket_is_refused_with_a_clear_message()
    {
        var target = Listen(Folder("other-project"), "agent.sock");
        var link = Path.Combine(Folder("sockets"), "agent.sock");
        File.CreateSymbolicLink(link, target);

        var refused = await Assert.ThrowsAsync<ExternalFailureException>(() => AgentSocket.ConnectAsync(link, CancellationToken.None).AsTask());

        Assert.Equal(
            $"refusing to connect to the agent socket {link}: it is a symbolic link owned by uid 0, mode 0777 (expected a socket owned by root)",
            refused.Message);
        Assert.False(_listeners[0].Poll(0, SelectMode.SelectRead), "the link's target was dialled");
    }

    [Fact]
    public async Task A_regular_file_is_refused()
    {
        var path = Path.Combine(Folder("sockets"), "agent.sock");
        await File.WriteAllTextAsync(path, "not a socket", CancellationToken.None);

        var refused = Assert.Throws<ExternalFailureException>(() => AgentSocket.Open(path));

        Assert.Contains($"the agent socket {path}: it is a regular file owned by uid 0", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_socket_owned_by_the_agent_user_is_refused()
    {
        var path = Listen(Folder("sockets"), "agent.sock");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Chown(path, 1000);

        var refused = Assert.Throws<ExternalFailureException>(() => AgentSocket.Open(path));

        Assert.Contains("it is a socket owned by uid 1000", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_socket_in_a_folder_the_agent_user_owns_or_can_write_is_refused()
    {
        var owned = Folder("owned");
        var path = Listen(owned, "agent.sock");
        Chown(owned, 1000);
        var open = Folder("open");
        var second = Listen(open, "agent.sock");
        File.SetUnixFileMode(open, (UnixFileMode)Convert.ToInt32("1777", 8));

        var first = Assert.Throws<ExternalFailureException>(() => AgentSocket.Open(path));
        var other = Assert.Throws<ExternalFailureException>(() => AgentSocket.Open(second));

        Assert.Contains("its folder is a directory owned by uid 1000", first.Message, StringComparison.Ordinal);
        Assert.Contains("mode 1777 (expected a directory owned by root, writable by root only)", other.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_socket_folder_that_is_a_symbolic_link_is_refused()
    {
        var real = Folder("real");
        Listen(real, "agent.sock");
        var linked = Path.Combine(_directory, "linked");
        Directory.CreateSymbolicLink(linked, real);

        var refused = Assert.Throws<ExternalFailureException>(() => AgentSocket.Open(Path.Combine(linked, "agent.sock")));

        Assert.Contains("its folder is a symbolic link", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_socket_is_a_connection_failure_not_a_refusal()
    {
        var path = Path.Combine(Folder("sockets"), "agent.sock");

        var missing = Assert.Throws<IOException>(() => AgentSocket.Open(path));

        Assert.Equal($"the agent socket {path} does not exist (its relay is not listening)", missing.Message);
    }

    private string Folder(string name)
    {
        var folder = Path.Combine(_directory, name);
        Directory.CreateDirectory(folder);
        File.SetUnixFileMode(folder, (UnixFileMode)Convert.ToInt32("755", 8));
        return folder;
    }

    private string Listen(string folder, string name)
    {
        var path = Path.Combine(folder, name);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        _listeners.Add(listener);
        return path;
    }

    private static void Chown(string path, int uid)
    {
        using var chown = System.Diagnostics.Process.Start("chown", ["-h", $"{uid}:{uid}", path]);
        chown.WaitForExit();
        Assert.Equal(0, chown.ExitCode);
    }
}
