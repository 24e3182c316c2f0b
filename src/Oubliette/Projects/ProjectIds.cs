using Oubliette.Errors;

namespace Oubliette.Projects;

/// <summary>Strict id parsing: ids build paths, so only canonical UUIDs pass (no traversal, no odd forms).</summary>
public static class ProjectIds
{
    public static Guid Parse(string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new InvalidArgumentException($"'{field}' is required");
        }

        if (value.Length != 36 || !Guid.TryParseExact(value, "D", out var id))
        {
            throw new InvalidArgumentException($"{field} '{Shorten(value)}' is not valid (expected a UUID such as 3f2c8a4e-0b1d-4c5e-9a7f-2d6b8e1c0a93)");
        }

        return id;
    }

    private static string Shorten(string value) => value.Length > 60 ? value[..60] + "..." : value;
}
