using System.Text.Json;
using Oubliette.Errors;

namespace Oubliette.Sessions;

/// <summary>
/// Attributes an agent's call of an Oubliette tool to the session that made it. Every agent in a container shares one
/// gateway credential, so the credential names only the project; the session is the one whose event stream shows a
/// running call of the same tool with the same arguments. A call nobody's stream shows (an agent's shell calling the
/// gateway by hand, say) is refused.
/// </summary>
public sealed class AgentToolCalls
{
    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();
    private readonly Lock _gate = new();
    private readonly List<PendingCall> _pending = [];
    private TaskCompletionSource _added = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The agent's stream shows a running call of one of Oubliette's tools.</summary>
    public void Started(Guid projectId, string sessionId, string callId, string tool, JsonElement? input)
    {
        lock (_gate)
        {
            _pending.Add(new PendingCall(projectId, sessionId, callId, tool, input ?? EmptyObject));
            var added = _added;
            _added = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            added.TrySetResult();
        }
    }

    /// <summary>The call finished (or its session's turn ended): it can no longer be claimed.</summary>
    public void Finished(string callId)
    {
        lock (_gate)
        {
            _pending.RemoveAll(call => call.CallId == callId);
        }
    }

    public void ForgetSession(string sessionId)
    {
        lock (_gate)
        {
            _pending.RemoveAll(call => call.SessionId == sessionId);
        }
    }

    /// <summary>
    /// The session that made this call, waiting up to <paramref name="wait"/> for its stream to show it (the call can
    /// reach the gateway before its event reaches the server). Each running call is claimed once.
    /// </summary>
    public async Task<string> ClaimAsync(Guid projectId, string agentToolName, JsonElement arguments, TimeSpan wait, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(wait);
        while (true)
        {
            Task added;
            lock (_gate)
            {
                var matches = _pending.Where(call => call.ProjectId == projectId && call.Tool == agentToolName && JsonElement.DeepEquals(call.Input, arguments)).ToList();
                if (matches.Select(call => call.SessionId).Distinct(StringComparer.Ordinal).Count() > 1)
                {
                    throw new ConflictException(
                        $"this call of {agentToolName} cannot be attributed: sessions {string.Join(", ", matches.Select(call => call.SessionId).Distinct(StringComparer.Ordinal))} made the same call at the same time; retry it");
                }

                if (matches.Count > 0)
                {
                    _pending.Remove(matches[0]);
                    return matches[0].SessionId;
                }

                added = _added.Task;
            }

            try
            {
                await added.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new ForbiddenException(
                    $"this call of {agentToolName} cannot be attributed to a session: no agent of project {projectId:D} is running such a call (agents call Oubliette's tools as tools, not by hand)");
            }
        }
    }

    private sealed record PendingCall(Guid ProjectId, string SessionId, string CallId, string Tool, JsonElement Input);
}
