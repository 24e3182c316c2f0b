using System.Text.Json;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Sessions;

namespace Oubliette.Tests.Sessions;

public sealed class CallerToolBrokerTests
{
    [Fact]
    public async Task A_second_answer_is_refused_even_before_the_waiting_call_has_woken()
    {
        var broker = new CallerToolBroker(ConfigParser.Parse("{}", "test"));
        var caller = new HeldCaller();
        var call = broker.RequestAsync("ses_1", new CallerBinding("client", [], caller), "lookup", JsonElement.Parse("{}"), CancellationToken.None);
        var request = await caller.Requested.Task;

        // No await between the two answers: the waiting call's continuation has not run yet.
        broker.Answer(caller.Key, "ses_1", request.RequestId, JsonElement.Parse("\"apple\""), null);
        var second = Assert.Throws<NotFoundException>(() => broker.Answer(caller.Key, "ses_1", request.RequestId, JsonElement.Parse("\"again\""), null));

        Assert.Contains($"request_id '{request.RequestId}'", second.Message, StringComparison.Ordinal);
        Assert.Equal("apple", (await call).Result!.Value.GetString());
    }

    private sealed class HeldCaller : ISessionSubscriber
    {
        public TaskCompletionSource<CallerToolRequest> Requested { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Key => "client-key";

        public Task NotifyAsync(SessionEvent sessionEvent, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task NotifyCallerToolRequestAsync(CallerToolRequest request, CancellationToken cancellationToken)
        {
            Requested.TrySetResult(request);
            return Task.CompletedTask;
        }
    }
}
