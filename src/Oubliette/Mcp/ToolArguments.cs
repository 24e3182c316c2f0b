using Oubliette.Errors;

namespace Oubliette.Mcp;

/// <summary>Checks of action-dependent arguments, with messages that name the field and what is allowed.</summary>
internal static class ToolArguments
{
    public static string Action(string tool, string? action, IReadOnlyList<string> allowed)
    {
        if (string.IsNullOrWhiteSpace(action))
        {
            throw new InvalidArgumentException($"{tool}: 'action' is required (allowed: {string.Join(", ", allowed)})");
        }

        if (!allowed.Contains(action, StringComparer.Ordinal))
        {
            throw new InvalidArgumentException($"{tool}: action '{action}' is not valid (allowed: {string.Join(", ", allowed)})");
        }

        return action;
    }

    public static string Required(string tool, string action, string name, string? value) =>
        string.IsNullOrWhiteSpace(value)
            ? throw new InvalidArgumentException($"{tool} {action}: '{name}' is required")
            : value;
}
