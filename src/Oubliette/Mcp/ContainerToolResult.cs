using Oubliette.Projects;

namespace Oubliette.Mcp;

/// <summary>
/// Result of the <c>container</c> tool: <c>status</c> (start, stop, restart, status), or the command's or the container's
/// output at the top level as README documents it: <c>{stdout, stderr, exit_code, truncated_bytes}</c> (exec) and
/// <c>{stdout, stderr, truncated_bytes}</c> (logs); refresh gives <c>{status, refreshed, removed}</c>: whether any
/// container was made again, and the names of those removed.
/// </summary>
public sealed record ContainerToolResult(
    ContainerStatus? Status = null,
    string? Stdout = null,
    string? Stderr = null,
    long? ExitCode = null,
    long? TruncatedBytes = null,
    bool? Refreshed = null,
    IReadOnlyList<string>? Removed = null)
{
    public static ContainerToolResult Of(ExecOutput exec) => new(Stdout: exec.Stdout, Stderr: exec.Stderr, ExitCode: exec.ExitCode, TruncatedBytes: exec.TruncatedBytes);
}
