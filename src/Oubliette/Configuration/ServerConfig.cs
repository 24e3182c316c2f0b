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

    public string Address => $"{Host}:{Port}";
}
