using System.Reflection;
using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Server;
using Oubliette.Mcp;
using Oubliette.Testing;

namespace Oubliette.Tests.Integration;

/// <summary>
/// Every tool's published schemas tell the truth about the wire: each result a tool can return validates against its
/// outputSchema (as the TypeScript SDK checks it), and the schemas pass the portability rules of strict validators and
/// the MCP Inspector's <c>--strict</c> check.
/// </summary>
public sealed class ToolSchemaTests : IAsyncLifetime
{
    private TestHome _home = null!;
    private InProcessServer _server = null!;
    private McpClient _client = null!;
    private Dictionary<string, McpClientTool> _tools = null!;

    public async Task InitializeAsync()
    {
        _home = await TestHome.CreateAsync();
        _server = await InProcessServer.StartAsync(_home);
        _client = await McpTestClient.ConnectAsync(_server.McpEndpoint, _home.AdminSecret);
        _tools = (await _client.ListToolsAsync()).ToDictionary(tool => tool.Name);
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _server.DisposeAsync();
        await _home.DisposeAsync();
    }

    /// <summary>Each [McpServerTool] of the server and the type its structured result is serialized from.</summary>
    public static TheoryData<string> ToolNames() => [.. ResultTypes().Keys];

    [Fact]
    public void Every_listed_tool_has_a_result_type_checked_here()
    {
        Assert.Equal(_tools.Keys.Order(), ResultTypes().Keys.Order());
        Assert.All(_tools.Values, tool => Assert.NotNull(tool.ProtocolTool.OutputSchema));
    }

    [Theory]
    [MemberData(nameof(ToolNames))]
    public void Results_with_every_optional_field_left_out_or_filled_validate_against_the_output_schema(string tool)
    {
        var schema = _tools[tool].ProtocolTool.OutputSchema!.Value;
        var type = ResultTypes()[tool];

        foreach (var sample in SampleValues.Of(type))
        {
            var json = JsonSerializer.SerializeToElement(sample, McpJson.Options.GetTypeInfo(type));
            var errors = SchemaCheck.Errors(schema, json);
            Assert.True(errors.Count == 0, $"{tool}: {json.GetRawText()} breaks its outputSchema:\n{string.Join("\n", errors)}\nschema: {schema.GetRawText()}");
        }
    }

    [Fact]
    public async Task Results_of_token_project_and_config_limits_calls_validate_against_their_output_schemas()
    {
        var created = await CheckedAsync("token", new { action = "create", name = "reader", scope = "admin:ro" });
        var id = created.GetProperty("token").GetProperty("id").GetString();
        await CheckedAsync("token", new { action = "create", name = "expiring", scope = "admin", expires = "2d" });
        var listed = await CheckedAsync("token", new { action = "list" });
        await CheckedAsync("token", new { action = "revoke", token_id = id });
        await CheckedAsync("project", new { action = "options" });
        await CheckedAsync("project", new { action = "list" });
        await CheckedAsync("config_limits", new { });

        // The fields that broke the TypeScript SDK are really left out on the wire (and so must not be required).
        var reader = listed.GetProperty("tokens").EnumerateArray().Single(token => token.GetProperty("name").GetString() == "reader");
        Assert.False(reader.TryGetProperty("expires_at", out _));
        Assert.False(reader.TryGetProperty("last_used_at", out _));
    }

    [Fact]
    public void Schemas_pass_the_portability_rules_of_strict_clients()
    {
        var findings = new List<string>();
        foreach (var tool in _tools.Values)
        {
            Lint(tool.ProtocolTool.InputSchema, $"{tool.Name}.inputSchema", keyword: null, findings);
            Lint(tool.ProtocolTool.OutputSchema!.Value, $"{tool.Name}.outputSchema", keyword: null, findings);
        }

        Assert.True(findings.Count == 0, string.Join("\n", findings));
    }

    [Fact]
    public void A_nullable_field_is_optional_and_typed_without_null()
    {
        var token = _tools["token"].ProtocolTool.OutputSchema!.Value.GetProperty("properties").GetProperty("tokens").GetProperty("items");
        var expires = token.GetProperty("properties").GetProperty("expires_at");

        Assert.Equal("string", expires.GetProperty("type").GetString());
        Assert.DoesNotContain("expires_at", token.GetProperty("required").EnumerateArray().Select(name => name.GetString()));
        Assert.Contains("id", token.GetProperty("required").EnumerateArray().Select(name => name.GetString()));
    }

    [Theory]
    [InlineData("session", "last_index")]
    [InlineData("session", "last_event_index")]
    [InlineData("container", "stdout")]
    [InlineData("container", "stderr")]
    [InlineData("container", "exit_code")]
    [InlineData("container", "status")]
    public void Documented_result_fields_are_at_the_top_level(string tool, string field)
    {
        var properties = _tools[tool].ProtocolTool.OutputSchema!.Value.GetProperty("properties");

        Assert.True(properties.TryGetProperty(field, out _), $"{tool} results have no top-level '{field}': {properties.GetRawText()}");
        Assert.False(properties.TryGetProperty("exec", out _));
    }

    private async Task<JsonElement> CheckedAsync(string tool, object arguments)
    {
        var outcome = await _client.CallAsync(tool, arguments);
        Assert.False(outcome.IsError, outcome.Text);
        var errors = SchemaCheck.Errors(_tools[tool].ProtocolTool.OutputSchema!.Value, outcome.Json);
        Assert.True(errors.Count == 0, $"{tool} {JsonSerializer.Serialize(arguments)}: {string.Join("\n", errors)}");
        return outcome.Json;
    }

    /// <summary>The MCP Inspector's portability findings: type arrays, schemas that constrain nothing, bare booleans, remote refs; nullable required fields; object keywords beside another type.</summary>
    private static void Lint(JsonElement schema, string path, string? keyword, List<string> findings)
    {
        if (schema.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            if (keyword is not ("additionalProperties" or "unevaluatedProperties" or "additionalItems" or "unevaluatedItems"))
            {
                findings.Add($"{path}: bare boolean schema");
            }

            return;
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (schema.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.Array)
        {
            findings.Add($"{path}: type array {type.GetRawText()}");
        }

        // Strict ajv (strictTypes) refuses keywords of another type beside a single type, e.g. "properties" with "type": "null".
        string[] objectOnly = ["properties", "required", "additionalProperties"];
        if (type.ValueKind == JsonValueKind.String && type.GetString() != "object" && objectOnly.FirstOrDefault(name => schema.TryGetProperty(name, out _)) is { } misplaced)
        {
            findings.Add($"{path}: '{misplaced}' beside \"type\": {type.GetRawText()}");
        }

        if (schema.TryGetProperty("$ref", out var reference) && !reference.GetString()!.StartsWith('#'))
        {
            findings.Add($"{path}: remote $ref");
        }

        string[] constraining = ["type", "enum", "const", "anyOf", "oneOf", "allOf", "not", "$ref", "properties", "items", "required", "additionalProperties", "format", "pattern"];
        if (keyword != "not" && !constraining.Any(name => schema.TryGetProperty(name, out _)))
        {
            findings.Add($"{path}: constrains nothing {schema.GetRawText()}");
        }

        if (schema.TryGetProperty("properties", out var properties))
        {
            var required = schema.TryGetProperty("required", out var names) ? names.EnumerateArray().Select(name => name.GetString()).ToHashSet() : [];
            foreach (var property in properties.EnumerateObject())
            {
                if (required.Contains(property.Name) && property.Value.TryGetProperty("type", out var propertyType) && propertyType.GetRawText().Contains("\"null\"", StringComparison.Ordinal))
                {
                    findings.Add($"{path}.{property.Name}: required but may be null");
                }

                Lint(property.Value, $"{path}.{property.Name}", "properties", findings);
            }
        }

        foreach (var name in new[] { "items", "additionalProperties", "not" })
        {
            if (schema.TryGetProperty(name, out var child))
            {
                Lint(child, $"{path}.{name}", name, findings);
            }
        }

        foreach (var name in new[] { "anyOf", "oneOf", "allOf" })
        {
            if (schema.TryGetProperty(name, out var branches))
            {
                var index = 0;
                foreach (var branch in branches.EnumerateArray())
                {
                    Lint(branch, $"{path}.{name}[{index++}]", name, findings);
                }
            }
        }
    }

    private static Dictionary<string, Type> ResultTypes() =>
        typeof(McpJson).Assembly.GetTypes()
            .Where(type => type.GetCustomAttribute<McpServerToolTypeAttribute>() is not null)
            .SelectMany(type => type.GetMethods())
            .Select(method => (Method: method, Attribute: method.GetCustomAttribute<McpServerToolAttribute>()))
            .Where(tool => tool.Attribute is not null)
            .ToDictionary(tool => tool.Attribute!.Name!, tool => tool.Attribute!.OutputSchemaType ?? Unwrapped(tool.Method.ReturnType));

    private static Type Unwrapped(Type type) =>
        type.IsGenericType && (type.GetGenericTypeDefinition() == typeof(Task<>) || type.GetGenericTypeDefinition() == typeof(ValueTask<>))
            ? type.GetGenericArguments()[0]
            : type;
}
