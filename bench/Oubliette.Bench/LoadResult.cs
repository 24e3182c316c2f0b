namespace Oubliette.Bench;

internal sealed record LoadResult(int Calls, int Errors, double CallsPerSecond, double P50Milliseconds, double P99Milliseconds);
