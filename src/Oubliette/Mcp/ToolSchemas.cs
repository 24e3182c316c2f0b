using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Server;

namespace Oubliette.Mcp;

/// <summary>
/// The one rule that makes every tool's input and output schema agree with the wire (<see cref="McpJson"/> leaves a null
/// field out): a property that may be null is optional and typed without <c>"null"</c>, so a result validates whether the
/// field is there or not, and a client never sends or receives <c>null</c> for it. Schemas are also made portable as
/// strict validators and the MCP Inspector's <c>--strict</c> check want them: no <c>type</c> arrays (a union that remains,
/// e.g. a nullable list item, becomes <c>anyOf</c> of single types) and no schema that constrains nothing (any-JSON fields
/// say so with an explicit <c>anyOf</c> of every JSON type).
/// </summary>
internal static class ToolSchemas
{
    private static readonly string[] AnyJsonTypes = ["object", "array", "string", "number", "boolean", "null"];

    /// <summary>Keywords that make a schema check something (as the Inspector's portability check counts them).</summary>
    private static readonly HashSet<string> Constraining =
    [
        "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength",
        "pattern", "format", "contentMediaType", "contentEncoding", "contentSchema", "maxItems", "minItems", "uniqueItems", "maxContains",
        "minContains", "maxProperties", "minProperties", "required", "dependentRequired", "allOf", "anyOf", "oneOf", "not", "items",
        "prefixItems", "contains", "additionalItems", "unevaluatedItems", "properties", "patternProperties", "additionalProperties",
        "unevaluatedProperties", "dependentSchemas", "propertyNames", "$ref", "$dynamicRef",
    ];

    private static readonly string[] SubschemaKeywords = ["items", "contains", "not", "propertyNames", "if", "then", "else", "additionalProperties", "unevaluatedProperties", "unevaluatedItems"];
    private static readonly string[] SubschemaListKeywords = ["allOf", "anyOf", "oneOf", "prefixItems"];
    private static readonly string[] SubschemaMapKeywords = ["properties", "patternProperties", "dependentSchemas", "$defs", "definitions"];

    /// <summary>Rewrites the schemas of every registered tool once, when the server's options are built.</summary>
    public static void Apply(McpServerOptions options)
    {
        foreach (var tool in options.ToolCollection ?? [])
        {
            var protocolTool = tool.ProtocolTool;
            protocolTool.InputSchema = Truthful(protocolTool.InputSchema);
            if (protocolTool.OutputSchema is { } output)
            {
                protocolTool.OutputSchema = Truthful(output);
            }
        }
    }

    /// <summary>The schema with the rule applied (see the type's summary).</summary>
    public static JsonElement Truthful(JsonElement schema)
    {
        var node = JsonNode.Parse(schema.GetRawText()) ?? throw new ArgumentException("a tool schema is null", nameof(schema));
        return JsonElement.Parse(Rewrite(node, keyword: null).ToJsonString());
    }

    private static JsonNode Rewrite(JsonNode node, string? keyword)
    {
        if (node is JsonValue value && value.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
        {
            // A bare boolean is fine where the keyword takes one (additionalProperties: false); elsewhere it is spelled as an object.
            return keyword is "additionalProperties" or "unevaluatedProperties" or "unevaluatedItems" or "additionalItems"
                ? node
                : value.GetValue<bool>() ? AnyJson(new JsonObject()) : new JsonObject { ["not"] = new JsonObject() };
        }

        if (node is not JsonObject schema)
        {
            return node;
        }

        // The schema generator leaves an empty "items": {} beside a "$ref" to an earlier list; the $ref already says it all.
        if (schema.ContainsKey("$ref") && schema["items"] is JsonObject { Count: 0 })
        {
            schema.Remove("items");
        }

        // First the properties' own nullability (the parent's required list changes with it), then their insides.
        if (schema["properties"] is JsonObject properties)
        {
            OptionalWhenNull(schema, properties);
        }

        foreach (var name in SubschemaKeywords)
        {
            if (schema[name] is { } child)
            {
                schema[name] = Rewrite(child.DeepClone(), name);
            }
        }

        foreach (var name in SubschemaListKeywords)
        {
            if (schema[name] is JsonArray list)
            {
                for (var i = 0; i < list.Count; i++)
                {
                    if (list[i] is { } item)
                    {
                        list[i] = Rewrite(item.DeepClone(), name);
                    }
                }
            }
        }

        foreach (var name in SubschemaMapKeywords)
        {
            if (schema[name] is JsonObject map)
            {
                foreach (var key in map.Select(pair => pair.Key).ToList())
                {
                    if (map[key] is { } child)
                    {
                        map[key] = Rewrite(child.DeepClone(), name);
                    }
                }
            }
        }

        if (schema["type"] is JsonArray types)
        {
            return Union(schema, types);
        }

        return schema.Any(pair => Constraining.Contains(pair.Key)) || keyword == "not" ? schema : AnyJson(schema);
    }

    /// <summary>A property that admits null is never written as null (McpJson leaves it out): optional, typed without null.</summary>
    private static void OptionalWhenNull(JsonObject schema, JsonObject properties)
    {
        var required = schema["required"] as JsonArray;
        foreach (var (name, property) in properties.ToList())
        {
            if (property is not JsonObject propertySchema || !AdmitsNull(propertySchema))
            {
                continue;
            }

            WithoutNull(propertySchema);
            if (required?.FirstOrDefault(entry => entry?.GetValue<string>() == name) is { } entry)
            {
                required.Remove(entry);
            }
        }

        if (required is { Count: 0 })
        {
            schema.Remove("required");
        }
    }

    private static bool AdmitsNull(JsonObject schema) =>
        schema["type"] switch
        {
            JsonArray types => types.Any(type => type?.GetValue<string>() == "null"),
            JsonValue type => type.GetValue<string>() == "null",
            _ => schema["anyOf"] is JsonArray branches && branches.Any(branch => branch is JsonObject b && b["type"] is JsonValue t && t.GetValue<string>() == "null"),
        };

    private static void WithoutNull(JsonObject schema)
    {
        if (schema["type"] is JsonArray types)
        {
            var kept = types.Select(type => type!.GetValue<string>()).Where(type => type != "null").ToList();
            schema["type"] = kept.Count == 1 ? JsonValue.Create(kept[0]) : new JsonArray([.. kept.Select(type => (JsonNode?)JsonValue.Create(type))]);
        }
        else if (schema["anyOf"] is JsonArray branches)
        {
            foreach (var branch in branches.Where(branch => branch is JsonObject b && b["type"] is JsonValue t && t.GetValue<string>() == "null").ToList())
            {
                branches.Remove(branch);
            }
        }

        if (schema["default"] is null && schema.ContainsKey("default"))
        {
            schema.Remove("default");
        }

        if (schema["enum"] is JsonArray values)
        {
            foreach (var nullValue in values.Where(entry => entry is null).ToList())
            {
                values.Remove(nullValue);
            }
        }
    }

    /// <summary><c>{"type": [a, b], …}</c> as <c>{"anyOf": [{"type": a, …}, {"type": b, …}]}</c>, keeping the annotations outside.</summary>
    private static JsonNode Union(JsonObject schema, JsonArray types)
    {
        var result = new JsonObject();
        foreach (var annotation in new[] { "description", "title", "default" })
        {
            if (schema.ContainsKey(annotation))
            {
                result[annotation] = Detach(schema, annotation);
            }
        }

        schema.Remove("type");
        var branches = new JsonArray();
        foreach (var type in types)
        {
            // A null branch takes no keywords of the other types: strict validators refuse "properties" beside "type": "null".
            var branch = type?.GetValue<string>() == "null" ? new JsonObject() : schema.DeepClone().AsObject();
            branch["type"] = type?.DeepClone();
            branches.Add(branch);
        }

        result["anyOf"] = branches;
        return result;
    }

    private static JsonObject AnyJson(JsonObject schema)
    {
        schema["anyOf"] = new JsonArray([.. AnyJsonTypes.Select(type => (JsonNode?)new JsonObject { ["type"] = type })]);
        return schema;
    }

    private static JsonNode Detach(JsonObject schema, string name)
    {
        var child = schema[name]!;
        schema.Remove(name);
        return child;
    }
}
