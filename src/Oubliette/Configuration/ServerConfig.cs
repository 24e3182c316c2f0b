namespace Oubliette.Configuration;

public sealed record ServerConfig
{
    public required string Host { get; init; }
    public required int Port { get; init; }
    public string? GatewaySocket { get; init; }
    public required int EventBufferSize { get; init; }

    /// <summary>How long an agent's call of a caller tool waits for the caller's answer.</summary>
    public int CallerToolTimeoutSeconds { get; init; } = 60;
    public required long MaxRequestBodyBytes { get; init; }
    public required int ShutdownTimeoutSeconds { get; init; }

    /// <summary>Largest prompt or message (UTF-8 bytes) that spawn and message accept.</summary>
    public int MaxPromptBytes { get; init; } = 1024 * 1024;

    /// <summary>Largest caller_tools definitions (serialized) and caller_tool_response result or error, in bytes.</summary>
    public int MaxCallerPayloadBytes { get; init; } = 1024 * 1024;

    /// <summary>Longest text, input, output or message one session event keeps (UTF-8 bytes); longer ones are truncated.</summary>
    public int MaxEventBytes { get; init; } = 64 * 1024;

    /// <summary>Approximate bytes of events a session keeps; the oldest are dropped beyond it (as beyond EventBufferSize).</summary>
    public long EventBufferBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Approximate bytes of events one events page returns (at least one event).</summary>
    public int MaxEventsPageBytes { get; init; } = 1024 * 1024;

    public string Address => $"{Host}:{Port}";
}
