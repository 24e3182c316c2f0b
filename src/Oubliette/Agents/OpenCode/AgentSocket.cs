using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;
using Oubliette.Errors;
using Oubliette.Operations;

namespace Oubliette.Agents.OpenCode;

/// <summary>
/// Dials an agent's <c>agent.sock</c> only when it is what the server expects: a socket owned by root (the relay runs
/// as root in the container) in a root-owned folder the container user cannot write, with no symbolic link on the last
/// two steps of the path. The checked file is pinned by an O_PATH handle and dialled through <c>/proc/self/fd</c>, so
/// what was checked is what is connected to (no check-then-use race).
/// </summary>
internal static class AgentSocket
{
    public static async ValueTask<Stream> ConnectAsync(string socketPath, CancellationToken cancellationToken)
    {
        using var pinned = Open(socketPath);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(UnixFiles.ProcPath(pinned)), cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Connects synchronously, so that the socket stays in blocking mode (see <see cref="UnixSocketHttp.CreateForBlockingReads"/>).</summary>
    public static Stream Connect(string socketPath)
    {
        using var pinned = Open(socketPath);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // Synchronous on purpose: an asynchronous connect puts the socket in non-blocking mode for good. A unix
            // socket connects at once or fails at once.
#pragma warning disable CA1849, VSTHRD103
            socket.Connect(new UnixDomainSocketEndPoint(UnixFiles.ProcPath(pinned)));
#pragma warning restore CA1849, VSTHRD103
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A handle on the socket file itself after the checks. A missing folder or socket is an <see cref="IOException"/>
    /// (the relay is not listening yet); anything else wrong is an <see cref="ExternalFailureException"/> naming the path.
    /// </summary>
    public static SafeFileHandle Open(string socketPath)
    {
        var directory = Path.GetDirectoryName(socketPath) ?? "/";
        using var folder = UnixFiles.OpenPath(directory) ?? throw new IOException($"the agent socket folder {directory} does not exist");
        var folderStatus = UnixFiles.Status(folder, directory);
        if (folderStatus.Kind != UnixFileKind.Directory || folderStatus.Uid != 0 || (folderStatus.Mode & 0x12) != 0)
        {
            throw new ExternalFailureException(
                $"refusing to connect to the agent socket {socketPath}: its folder is a {folderStatus.Describe()} (expected a directory owned by root, writable by root only)");
        }

        var socket = UnixFiles.OpenPath(Path.GetFileName(socketPath), folder) ?? throw new IOException($"the agent socket {socketPath} does not exist (its relay is not listening)");
        try
        {
            var status = UnixFiles.Status(socket, socketPath);
            if (status.Kind != UnixFileKind.Socket || status.Uid != 0)
            {
                throw new ExternalFailureException(
                    $"refusing to connect to the agent socket {socketPath}: it is a {status.Describe()} (expected a socket owned by root)");
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
