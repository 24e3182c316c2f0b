using System.Net.Sockets;
using System.Text;
using Oubliette.Agents.OpenCode;

namespace Oubliette.Tests.Agents;

public sealed class UnixSocketHttpTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("oubliette-unix-http-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>
    /// The agent's event stream is read by a thread blocked in the kernel; closing the connection (project deleted, server
    /// stopping) must end that read at once, or a stopping server would go on taking in (and acting on) the agent's events.
    /// </summary>
    [Fact]
    public async Task A_blocking_read_of_a_chunked_stream_gets_its_events_and_ends_when_the_response_is_disposed()
    {
        var path = Path.Combine(_directory, "agent.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        var serving = ServeOneStreamThatStaysOpenAsync(listener);
        using var http = UnixSocketHttp.CreateForBlockingReads(path);
        var payloads = new List<string>();
        var bothEvents = new TaskCompletionSource<HttpResponseMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        // As the runtime reads it: sent and read synchronously on a thread of its own.
        var reading = Task.Factory.StartNew(
            () =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "global/event");
                var response = http.Send(request, HttpCompletionOption.ResponseHeadersRead);
                ServerSentEventReader.ReadData(response.Content.ReadAsStream(), data =>
                {
                    payloads.Add(Encoding.UTF8.GetString(data));
                    if (payloads.Count == 2)
                    {
                        bothEvents.TrySetResult(response);
                    }
                });
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        var response = await bothEvents.Task.WaitAsync(TimeSpan.FromSeconds(10));
        response.Dispose();
        // At once, not after the 2 s HttpClient would spend trying to drain an endless stream by default.
        var ended = await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(1)));

        Assert.Same(reading, ended);
        Assert.Equal([" {\"a\":1}", " {\"b\":2}"], payloads);
        using var server = await serving;
    }

    private static async Task<Socket> ServeOneStreamThatStaysOpenAsync(Socket listener)
    {
        var connection = await listener.AcceptAsync();
        var request = new byte[4096];
        var received = 0;
        while (!Encoding.ASCII.GetString(request, 0, received).Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            received += await connection.ReceiveAsync(request.AsMemory(received));
        }

        await connection.SendAsync(Encoding.ASCII.GetBytes(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "e\r\ndata: {\"a\":1}\n\r\n" + "10\r\n\ndata: {\"b\":2}\n\n\r\n"));
        return connection;
    }
}
