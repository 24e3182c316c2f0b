using System.Net.Sockets;

namespace Oubliette.Agents.OpenCode;

/// <summary>An HttpClient whose every connection goes to one unix socket (the agent's <c>agent.sock</c>).</summary>
internal static class UnixSocketHttp
{
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
