using System.Text.Json;
using Oubliette.Auth;

namespace Oubliette.Mcp;

/// <summary>
/// Checks a tool call's arguments against the tool's input schema before they are bound to parameters, so that every
/// tool refuses unknown arguments, missing required ones and wrong JSON types the same way, naming the field, the value
/// and what is allowed (binding would otherwise fail with .NET type names).
/// </summary>
internal static class ArgumentCheck
{
    /// <summary>Why the arguments do not fit <paramref name="inputSchema"/>, or null when they do.</summary>
    public static string? Problem(string tool, JsonElement inputSchema, IDictionary<string, JsonElement>? arguments)
    {
        if (inputSchema.ValueKind != JsonValueKind.Object || !inputSchema.TryGetProperty("properties", out var properties)
            || properties.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (arguments is not null && AllFit(inputSchema, properties, arguments))
        {
            return null;
        }

        arguments ??= new Dictionary<string, JsonElement>();
        var allowed = properties.EnumerateObject().Select(property => property.Name).ToList();
        foreach (var name in arguments.Keys.Order(StringComparer.Ordinal))
        {
            if (!properties.TryGetProperty(name, out _))
            {
                return $"{tool}: unknown argument '{Bounded(name)}' (allowed: {string.Join(", ", allowed)})";
            }
        }

        if (inputSchema.TryGetProperty("required", out var required) && required.ValueKind == JsonValueKind.Array)
        {
            foreach (var name in required.EnumerateArray().Select(item => item.GetString()).OfType<string>())
            {
                if (!arguments.TryGetValue(name, out var given) || given.ValueKind == JsonValueKind.Null)
                {
                    return name == "action" && ActionCatalog.ActionsOf(tool) is { Count: > 0 } actions
                        ? $"{tool}: 'action' is required (allowed: {string.Join(", ", actions)})"
                        : $"{tool}: '{name}' is required";
                }
            }
        }

        foreach (var (name, value) in arguments.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            // Schemas type optional arguments without "null" (ToolSchemas); a client that still sends null for one means
            // "not given", which binds the same way (a required one was refused above).
            if (value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            var types = TypesOf(properties.GetProperty(name));
            if (types.Count > 0 && !types.Any(type => Fits(type, value)))
            {
                var expected = string.Join(" or ", types.Where(type => type != "null").Select(Article));
                return $"{tool}: '{name}' must be {(expected.Length == 0 ? "null" : expected)}, not {Describe(value)}";
            }

            if (ItemsProblem(tool, name, properties.GetProperty(name), value) is { } itemProblem)
            {
                return itemProblem;
            }
        }

        return null;
    }

    /// <summary>
    /// The common case, checked on every call without building lists or sorting: every argument known and of one of its
    /// listed types, every required one given. False means "look closer" (the ordered checks above name the problem).
    /// </summary>
    private static bool AllFit(JsonElement inputSchema, JsonElement properties, IDictionary<string, JsonElement> arguments)
    {
        foreach (var (name, value) in arguments)
        {
            if (!properties.TryGetProperty(name, out var property))
            {
                return false;
            }

            if (value.ValueKind == JsonValueKind.Null || !property.TryGetProperty("type", out var type))
            {
                continue;
            }

            var fits = type.ValueKind != JsonValueKind.String || Fits(type.GetString()!, value);
            if (type.ValueKind == JsonValueKind.Array)
            {
                fits = false;
                foreach (var item in type.EnumerateArray())
                {
                    fits |= item.ValueKind == JsonValueKind.String && Fits(item.GetString()!, value);
                }
            }

            // A list of objects (schedule targets) has its items checked by the ordered checks.
            if (!fits || (value.ValueKind == JsonValueKind.Array && ItemsProblem("", name, property, value) is not null))
            {
                return false;
            }
        }

        if (inputSchema.TryGetProperty("required", out var required) && required.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in required.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String || !arguments.TryGetValue(item.GetString()!, out var given) || given.ValueKind == JsonValueKind.Null)
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>
    /// The items of a list of objects (schedule targets) get the same checks one level down, named by their path
    /// (<c>targets[1].project_id</c>): binding would otherwise drop an unknown field without a word.
    /// </summary>
    private static string? ItemsProblem(string tool, string name, JsonElement property, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Array || !property.TryGetProperty("items", out var items) || ObjectSchema(items) is not { } itemSchema
            || !itemSchema.TryGetProperty("properties", out var itemProperties) || itemProperties.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var allowed = itemProperties.EnumerateObject().Select(item => item.Name).ToList();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var path = $"{name}[{index++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                return $"{tool}: '{path}' must be an object {{{string.Join(", ", allowed)}}}, not {Describe(item)}";
            }

            foreach (var field in item.EnumerateObject())
            {
                if (!itemProperties.TryGetProperty(field.Name, out var fieldSchema))
                {
                    return $"{tool}: '{path}' has an unknown field '{Bounded(field.Name)}' (allowed: {string.Join(", ", allowed)})";
                }

                var types = TypesOf(fieldSchema);
                if (field.Value.ValueKind != JsonValueKind.Null && types.Count > 0 && !types.Any(type => Fits(type, field.Value)))
                {
                    return $"{tool}: '{path}.{field.Name}' must be {string.Join(" or ", types.Where(type => type != "null").Select(Article))}, not {Describe(field.Value)}";
                }
            }
        }

        return null;
    }

    /// <summary>The object schema itself, or its object branch when ToolSchemas spelled a nullable item as <c>anyOf</c>.</summary>
    private static JsonElement? ObjectSchema(JsonElement schema) =>
        schema.ValueKind != JsonValueKind.Object ? null
        : schema.TryGetProperty("properties", out _) ? schema
        : schema.TryGetProperty("anyOf", out var branches) && branches.ValueKind == JsonValueKind.Array
            ? branches.EnumerateArray().Where(branch => branch.ValueKind == JsonValueKind.Object && branch.TryGetProperty("properties", out _)).Cast<JsonElement?>().FirstOrDefault()
            : null;

    private static List<string> TypesOf(JsonElement property)
    {
        if (!property.TryGetProperty("type", out var type))
        {
            return [];
        }

        return type.ValueKind switch
        {
            JsonValueKind.String => [type.GetString()!],
            JsonValueKind.Array => [.. type.EnumerateArray().Where(item => item.ValueKind == JsonValueKind.String).Select(item => item.GetString()!)],
            _ => [],
        };
    }

    private static bool Fits(string type, JsonElement value) => type switch
    {
        "string" => value.ValueKind == JsonValueKind.String,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
        "number" => value.ValueKind == JsonValueKind.Number,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "array" => value.ValueKind == JsonValueKind.Array,
        "object" => value.ValueKind == JsonValueKind.Object,
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => true,
    };

    private static string Article(string type) => type switch
    {
        "integer" => "an integer",
        "array" => "an array",
        "object" => "an object",
        _ => "a " + type,
    };

    /// <summary>The value as the caller sent it (bounded), with its JSON type.</summary>
    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string {Bounded(value.GetRawText())}",
        JsonValueKind.Number => $"the number {Bounded(value.GetRawText())}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {value.GetRawText()}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    private static string Bounded(string text) => text.Length > 60 ? text[..60] + "…" : text;
}
