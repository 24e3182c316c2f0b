using Oubliette.Auth;
using Oubliette.Errors;

namespace Oubliette.Mcp;

/// <summary>The caller of the current tool call, set once per call by the call-tool filter (scoped service).</summary>
public sealed class CallerContext
{
    private Caller? _caller;

    public Caller Caller
    {
        get => _caller ?? throw new ForbiddenException("unauthenticated: no token is attached to this call");
        set => _caller = value;
    }

    /// <summary>For an agent's call: the session that made it (attributed from the agent's event stream).</summary>
    public string? AgentSessionId { get; set; }
}
