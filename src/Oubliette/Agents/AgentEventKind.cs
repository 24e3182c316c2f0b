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
}
