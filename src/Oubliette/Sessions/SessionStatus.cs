namespace Oubliette.Sessions;

public static class SessionStatus
{
    public const string Created = "created";
    public const string Running = "running";
    public const string Idle = "idle";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string TimedOut = "timed_out";

    public static readonly IReadOnlyList<string> All = [Created, Running, Idle, Completed, Failed, TimedOut];

    public static bool IsFinal(string status) => status is Completed or Failed or TimedOut;
}
