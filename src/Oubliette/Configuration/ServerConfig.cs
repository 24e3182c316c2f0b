namespace Oubliette.Configuration;

public sealed record ServerConfig
{
    public required string Host { get; init; }
    public required int Port { get; init; }
    public string? GatewaySocket { get; init; }
    public required int EventBufferSize { get; init; }
    public required long MaxRequestBodyBytes { get; init; }
    public required int ShutdownTimeoutSeconds { get; init; }

    public string Address => $"{Host}:{Port}";
}
