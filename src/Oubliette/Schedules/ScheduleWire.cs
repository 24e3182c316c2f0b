using Oubliette.Errors;

namespace Oubliette.Schedules;

/// <summary>
/// The wire (and database) names of the schedule enums: the lower-case member names (<c>skip</c>, <c>resume</c>,
/// <c>success</c>…), and parsing of what callers send, with errors naming the field, the value and what is allowed.
/// </summary>
public static class ScheduleWire
{
    public static readonly IReadOnlyList<string> OverlapBehaviors = [Name(OverlapBehavior.Skip), Name(OverlapBehavior.Queue), Name(OverlapBehavior.Parallel)];
    public static readonly IReadOnlyList<string> SessionBehaviors = [Name(SessionBehavior.Resume), Name(SessionBehavior.New)];

    public static string Name(OverlapBehavior value) => value.ToString().ToLowerInvariant();

    public static string Name(SessionBehavior value) => value.ToString().ToLowerInvariant();

    public static string Name(ExecutionStatus value) => value.ToString().ToLowerInvariant();

    public static OverlapBehavior ParseOverlap(string field, string value) =>
        IsLower(value) && Enum.TryParse<OverlapBehavior>(value, ignoreCase: true, out var parsed)
            ? parsed
            : throw new InvalidArgumentException($"{field} '{value}' is not valid (allowed: {string.Join(", ", OverlapBehaviors)})");

    public static SessionBehavior ParseSession(string field, string value) =>
        IsLower(value) && Enum.TryParse<SessionBehavior>(value, ignoreCase: true, out var parsed)
            ? parsed
            : throw new InvalidArgumentException($"{field} '{value}' is not valid (allowed: {string.Join(", ", SessionBehaviors)})");

    /// <summary>A stored status; the database only ever holds the names written by <see cref="Name(ExecutionStatus)"/>.</summary>
    public static ExecutionStatus ParseStatus(string value) =>
        Enum.TryParse<ExecutionStatus>(value, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed)
            ? parsed
            : throw new InvalidOperationException($"unknown execution status '{value}' in schedules.db");

    // Only the documented spellings: "Skip", "1" or " skip" are not wire names.
    private static bool IsLower(string value) => value.Length > 0 && value.All(char.IsAsciiLetterLower);
}
