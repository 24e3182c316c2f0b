using System.Globalization;
using System.Text.Json;

namespace Oubliette.Configuration;

/// <summary>
/// Reads one JSON object of the config with a known set of keys, recording every problem (unknown key, wrong type,
/// out of range) against its full path instead of stopping at the first.
/// </summary>
internal sealed class ConfigReader
{
    private readonly JsonElement _element;
    private readonly List<ConfigError> _errors;

    private ConfigReader(JsonElement element, string path, List<ConfigError> errors)
    {
        _element = element;
        Path = path;
        _errors = errors;
    }

    public string Path { get; }

    public static ConfigReader Root(JsonElement element, List<ConfigError> errors) => new(element, "", errors);

    public string PathOf(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    public void Error(string key, string reason) => _errors.Add(new ConfigError(PathOf(key), reason));

    /// <summary>Reports keys this object does not define.</summary>
    public void RejectUnknownKeys(params string[] known)
    {
        if (_element.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        foreach (var property in _element.EnumerateObject())
        {
            if (!known.Contains(property.Name, StringComparer.Ordinal))
            {
                _errors.Add(new ConfigError(PathOf(property.Name), $"unknown key (allowed here: {string.Join(", ", known)})"));
            }
        }
    }

    /// <summary>The nested object at <paramref name="key"/>; an empty object when absent or of the wrong type.</summary>
    public ConfigReader Section(string key)
    {
        if (TryGet(key, out var value))
        {
            if (value.ValueKind == JsonValueKind.Object)
            {
                return new ConfigReader(value, PathOf(key), _errors);
            }

            Error(key, $"expected an object, found {Describe(value)}");
        }

        return new ConfigReader(EmptyObject, PathOf(key), _errors);
    }

    /// <summary>Each property of the object at <paramref name="key"/> read as a section of its own.</summary>
    public IReadOnlyDictionary<string, T> Map<T>(string key, Func<string, ConfigReader, T> read)
    {
        var section = Section(key);
        var result = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var property in section._element.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.Object)
            {
                section.Error(property.Name, $"expected an object, found {Describe(property.Value)}");
                continue;
            }

            result[property.Name] = read(property.Name, new ConfigReader(property.Value, section.PathOf(property.Name), _errors));
        }

        return result;
    }

    /// <summary>
    /// Each property of the object at <paramref name="key"/>: a string is passed to <paramref name="readString"/>, an
    /// object is read as a section of its own by <paramref name="readObject"/>; anything else is an error.
    /// </summary>
    public IReadOnlyDictionary<string, T> StringOrSectionMap<T>(string key, Func<string, string, T> readString, Func<string, ConfigReader, T> readObject)
    {
        var section = Section(key);
        var result = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var property in section._element.EnumerateObject())
        {
            if (property.Value.ValueKind == JsonValueKind.String)
            {
                result[property.Name] = readString(property.Name, property.Value.GetString() ?? "");
            }
            else if (property.Value.ValueKind == JsonValueKind.Object)
            {
                result[property.Name] = readObject(property.Name, new ConfigReader(property.Value, section.PathOf(property.Name), _errors));
            }
            else
            {
                section.Error(property.Name, $"expected a string (the image) or an object {{image, recipe?}}, found {Describe(property.Value)}");
            }
        }

        return result;
    }

    /// <summary>Each property of the object at <paramref name="key"/> as a string value.</summary>
    public IReadOnlyDictionary<string, string> StringMap(string key)
    {
        var section = Section(key);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in section._element.EnumerateObject())
        {
            if (property.Value.ValueKind == JsonValueKind.String)
            {
                result[property.Name] = property.Value.GetString() ?? "";
            }
            else
            {
                section.Error(property.Name, $"expected a string, found {Describe(property.Value)}");
            }
        }

        return result;
    }

    /// <summary>The array of strings at <paramref name="key"/>, each checked by <paramref name="problem"/> (a reason, or null when fine); null when absent.</summary>
    public IReadOnlyList<string>? OptionalStringList(string key, Func<string, string?> problem)
    {
        if (!TryGet(key, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            Error(key, $"expected an array of strings, found {Describe(value)}");
            return null;
        }

        var result = new List<string>();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String)
            {
                var text = item.GetString() ?? "";
                if (problem(text) is { } reason)
                {
                    _errors.Add(new ConfigError($"{PathOf(key)}[{index}]", reason));
                }

                result.Add(text);
            }
            else
            {
                _errors.Add(new ConfigError($"{PathOf(key)}[{index}]", $"expected a string, found {Describe(item)}"));
            }

            index++;
        }

        return result;
    }

    public string? OptionalString(string key)
    {
        if (!TryGet(key, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            Error(key, $"expected a string, found {Describe(value)}");
            return null;
        }

        return value.GetString();
    }

    public string String(string key, string defaultValue) => OptionalString(key) ?? defaultValue;

    public string RequiredString(string key)
    {
        var value = OptionalString(key);
        if (string.IsNullOrWhiteSpace(value))
        {
            if (!TryGet(key, out var present) || present.ValueKind is JsonValueKind.String or JsonValueKind.Null)
            {
                Error(key, "is required and must not be empty");
            }

            return "";
        }

        return value;
    }

    public string OneOf(string key, string defaultValue, params string[] allowed)
    {
        var value = String(key, defaultValue);
        if (!allowed.Contains(value, StringComparer.Ordinal))
        {
            Error(key, $"'{value}' is not allowed (allowed: {string.Join(", ", allowed)})");
            return defaultValue;
        }

        return value;
    }

    public bool Bool(string key, bool defaultValue)
    {
        if (!TryGet(key, out var value))
        {
            return defaultValue;
        }

        if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return value.GetBoolean();
        }

        Error(key, $"expected true or false, found {Describe(value)}");
        return defaultValue;
    }

    public int Int(string key, int defaultValue, int min, int max) => OptionalInt(key, min, max) ?? defaultValue;

    public int? OptionalInt(string key, int min, int max)
    {
        if (!TryGet(key, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number))
        {
            Error(key, $"expected a whole number, found {Describe(value)}");
            return null;
        }

        if (number < min || number > max)
        {
            Error(key, $"{number} is out of range ({min}..{max})");
            return null;
        }

        return (int)number;
    }

    public double Double(string key, double defaultValue, double min, double max)
    {
        if (!TryGet(key, out var value))
        {
            return defaultValue;
        }

        if (value.ValueKind != JsonValueKind.Number)
        {
            Error(key, $"expected a number, found {Describe(value)}");
            return defaultValue;
        }

        var number = value.GetDouble();
        if (number < min || number > max)
        {
            Error(key, $"{number.ToString(CultureInfo.InvariantCulture)} is out of range ({min.ToString(CultureInfo.InvariantCulture)}..{max.ToString(CultureInfo.InvariantCulture)})");
            return defaultValue;
        }

        return number;
    }

    private bool TryGet(string key, out JsonElement value)
    {
        if (_element.ValueKind == JsonValueKind.Object && _element.TryGetProperty(key, out value))
        {
            return true;
        }

        value = default;
        return false;
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{Truncate(value.GetString())}\"",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {value.GetRawText()}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.Null => "null",
        _ => value.ValueKind.ToString(),
    };

    private static string Truncate(string? text) => text is { Length: > 40 } ? text[..40] + "…" : text ?? "";

    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();
}
