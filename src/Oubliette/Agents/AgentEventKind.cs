namespace Oubliette.Agents;

public enum AgentEventKind
{
    Busy,
    Delta,
    Message,
    ToolCall,
    ToolResult,
    Idle,
    Error,

    /// <summary>A model call failed and the agent retries it: worth reporting, but the turn goes on.</summary>
    Retry,
}
