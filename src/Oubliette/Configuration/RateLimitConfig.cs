namespace Oubliette.Configuration;

public sealed record RateLimitConfig(int RequestsPerSecond, int Burst);
