using Oubliette.Errors;

namespace Oubliette.Configuration;

/// <summary>The config file could not be used; carries every problem found, not only the first.</summary>
public sealed class ConfigException(string file, IReadOnlyList<ConfigError> errors)
    : OublietteException(FormatMessage(file, errors))
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;

    private static string FormatMessage(string file, IReadOnlyList<ConfigError> errors) =>
        $"invalid config {file} ({errors.Count} problem{(errors.Count == 1 ? "" : "s")}):"
        + string.Concat(errors.Select(error => $"{Environment.NewLine}  - {error}"));
}
