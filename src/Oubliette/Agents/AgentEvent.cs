using System.Text.Json;

namespace Oubliette.Agents;

/// <summary>What an agent reported about one of its sessions, normalized from the agent's own event stream.</summary>
public sealed record AgentEvent(
    string AgentSessionId,
    AgentEventKind Kind,
    string? Text = null,
    string? Tool = null,
    string? CallId = null,
    JsonElement? Input = null,
    bool IsError = false,
    bool Truncated = false);
