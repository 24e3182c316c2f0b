namespace Oubliette.Bench;

/// <summary>A closed-loop load run; <see cref="ServerCpuMillisecondsPerCall"/> is NaN when the server's CPU was not read.</summary>
internal sealed record LoadResult(int Calls, int Errors, double CallsPerSecond, double P50Milliseconds, double P99Milliseconds, double ServerCpuMillisecondsPerCall = double.NaN);
