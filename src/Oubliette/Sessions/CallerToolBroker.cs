using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Oubliette.Configuration;
using Oubliette.Errors;

namespace Oubliette.Sessions;

/// <summary>
/// An agent's call of a caller tool: pushed to the session's caller as <c>caller_tool_request</c>, answered by that
/// caller alone with <c>caller_tool_response</c>, or failed after the configured timeout.
/// </summary>
public sealed class CallerToolBroker(OublietteConfig config)
{
    private readonly ConcurrentDictionary<string, PendingRequest> _pending = new(StringComparer.Ordinal);

    public async Task<CallerToolAnswer> RequestAsync(string sessionId, CallerBinding binding, string tool, JsonElement arguments, CancellationToken cancellationToken)
    {
        var requestId = "ctr_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var pending = new PendingRequest(sessionId, binding.Caller.Key, new TaskCompletionSource<CallerToolAnswer>(TaskCreationOptions.RunContinuationsAsynchronously));
        _pending[requestId] = pending;
        var timeout = TimeSpan.FromSeconds(config.Server.CallerToolTimeoutSeconds);
        try
        {
            try
            {
                await binding.Caller.NotifyCallerToolRequestAsync(new CallerToolRequest(sessionId, requestId, tool, arguments), cancellationToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException and not OutOfMemoryException)
            {
                throw new ExternalFailureException($"caller tool {tool}: the caller of session {sessionId} cannot be reached ({exception.Message})");
            }

            return await pending.Answer.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new ExternalFailureException($"caller tool {tool}: the caller did not answer request {requestId} within {timeout.TotalSeconds:0} s (timeout)");
        }
        finally
        {
            _pending.TryRemove(requestId, out _);
        }
    }

    public void Answer(string callerKey, string sessionId, string requestId, JsonElement? result, string? error)
    {
        if (!_pending.TryGetValue(requestId, out var pending) || pending.SessionId != sessionId)
        {
            throw NotPending(sessionId, requestId);
        }

        if (!string.Equals(pending.CallerKey, callerKey, StringComparison.Ordinal))
        {
            throw new ForbiddenException($"request '{requestId}' was sent to the caller of session {sessionId}; only that caller may answer it");
        }

        if (result is null && error is null)
        {
            throw new InvalidArgumentException("caller_tool_response needs 'result' or 'error'");
        }

        // Claimed here, not when the waiting call wakes: a second answer arriving before that must be refused.
        if (!_pending.TryRemove(new KeyValuePair<string, PendingRequest>(requestId, pending)))
        {
            throw NotPending(sessionId, requestId);
        }

        pending.Answer.TrySetResult(new CallerToolAnswer(result, error));
    }

    private static NotFoundException NotPending(string sessionId, string requestId) =>
        new($"request_id '{requestId}' (a caller tool request of session {sessionId}) is not pending (answered, timed out, or never made)");

    private sealed record PendingRequest(string SessionId, string CallerKey, TaskCompletionSource<CallerToolAnswer> Answer);
}
