namespace Oubliette.Agents.OpenCode;

/// <summary>
/// An HttpClient whose every connection goes to one unix socket (the agent's <c>agent.sock</c>), checked before each
/// connection (<see cref="AgentSocket"/>): a refusal surfaces as an <see cref="HttpRequestException"/> whose inner exception
/// says what is wrong.
/// </summary>
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
        ConnectCallback = (_, _) => ValueTask.FromResult(AgentSocket.Connect(socketPath)),
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
        ConnectCallback = (_, cancellationToken) => AgentSocket.ConnectAsync(socketPath, cancellationToken),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
    })
    {
        BaseAddress = new Uri("http://opencode/"),
        Timeout = Timeout.InfiniteTimeSpan,
    };
}
