using System.Net.Sockets;

namespace Oubliette.Agents.OpenCode;

/// <summary>An HttpClient whose every connection goes to one unix socket (the agent's <c>agent.sock</c>).</summary>
internal static class UnixSocketHttp
{
    /// <summary>
    /// A client for one long response read synchronously on a thread of its own (the agent's event stream). Its socket is
    /// connected synchronously and so stays in blocking mode: a read that finds no data sleeps in the kernel and is woken
    /// by the data itself. On a non-blocking socket the runtime's socket engine thread is woken first and then hands the
    /// read to a thread-pool thread, two wake-ups instead of one; while an agent streams a reply on a busy host those
    /// wake-ups were most of the time the server took to take the burst in.
    /// </summary>
    public static HttpClient CreateForBlockingReads(string socketPath) => new(new SocketsHttpHandler
    {
        ConnectCallback = (_, _) =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                // Synchronous on purpose: an asynchronous connect puts the socket in non-blocking mode for good. A unix
                // socket connects at once or fails at once.
#pragma warning disable CA1849, VSTHRD103
                socket.Connect(new UnixDomainSocketEndPoint(socketPath));
#pragma warning restore CA1849, VSTHRD103
                return ValueTask.FromResult<Stream>(new NetworkStream(socket, ownsSocket: true));
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
        // Disposing the response closes the connection at once, which ends a read blocked on it. The default would first
        // try to drain an endless stream, for 2 s, while the blocked reader still owns the connection.
        MaxResponseDrainSize = 0,
    })
    {
        BaseAddress = new Uri("http://opencode/"),
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public static HttpClient Create(string socketPath) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
    })
    {
        BaseAddress = new Uri("http://opencode/"),
        Timeout = Timeout.InfiniteTimeSpan,
    };
}
