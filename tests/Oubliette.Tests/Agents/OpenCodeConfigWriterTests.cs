using System.Text.Json;
using Oubliette.Agents.OpenCode;
using Oubliette.Configuration;
using Oubliette.Projects;

namespace Oubliette.Tests.Agents;

public sealed class OpenCodeConfigWriterTests
{
    private const string ProviderKey = "sk-live-provider-key";

    private static readonly OublietteConfig Config = ConfigParser.Parse($$"""
        {
          "credentials": { "providers": { "credentials": {
            "claude": { "provider": "anthropic", "api_key": "{{ProviderKey}}" },
            "local": { "provider": "openai-compatible", "api_key": "{{ProviderKey}}", "base_url": "http://127.0.0.1:1/v1" } } } },
          "models": { "models": {
            "sonnet": { "model": "claude-sonnet", "provider": "claude", "displayName": "Sonnet", "maxOutputTokens": 8000 },
            "small": { "model": "qwen", "provider": "local" } }, "defaults": { "session_model": "small" } },
        }
        """, "test");

    private static ProjectMetadata Project(string autonomy = "off", string? model = null) => new()
    {
        Id = Guid.NewGuid(),
        Name = "p",
        CreatedAt = DateTimeOffset.UnixEpoch,
        UpdatedAt = DateTimeOffset.UnixEpoch,
        Model = model,
        Autonomy = autonomy,
        Reasoning = "off",
        ContainerType = "base",
        InitGit = true,
        WorkspaceIsolation = false,
        Limits = new ProjectLimits(null, null, null),
        DefaultWorkspaceId = Guid.NewGuid(),
        Workspaces = [],
    };

    [Fact]
    public void Providers_point_at_the_gateway_with_the_container_credential_and_never_the_key()
    {
        var text = new OpenCodeConfigWriter(Config).Write(Project(), "ogw_container_secret");
        using var document = JsonDocument.Parse(text);
        var providers = document.RootElement.GetProperty("provider");

        Assert.DoesNotContain(ProviderKey, text, StringComparison.Ordinal);
        Assert.Equal("@ai-sdk/anthropic", providers.GetProperty("claude").GetProperty("npm").GetString());
        Assert.Equal("@ai-sdk/openai-compatible", providers.GetProperty("local").GetProperty("npm").GetString());
        Assert.Equal("http://127.0.0.1:4097/llm/claude", providers.GetProperty("claude").GetProperty("options").GetProperty("baseURL").GetString());
        Assert.Equal("ogw_container_secret", providers.GetProperty("local").GetProperty("options").GetProperty("apiKey").GetString());
        Assert.Equal(8000, providers.GetProperty("claude").GetProperty("models").GetProperty("claude-sonnet").GetProperty("limit").GetProperty("output").GetInt32());
        Assert.Equal("local/qwen", document.RootElement.GetProperty("model").GetString());
    }

    [Theory]
    [InlineData("off", "allow", "allow")]
    [InlineData("low", "allow", "deny")]
    [InlineData("medium", "deny", "deny")]
    [InlineData("high", "deny", "deny")]
    public void Autonomy_becomes_permissions_that_never_ask(string autonomy, string bash, string webfetch)
    {
        using var document = JsonDocument.Parse(new OpenCodeConfigWriter(Config).Write(Project(autonomy), "s"));
        var permission = document.RootElement.GetProperty("permission");

        Assert.Equal(bash, permission.GetProperty("bash").GetString());
        Assert.Equal(webfetch, permission.GetProperty("webfetch").GetString());
        Assert.DoesNotContain("ask", permission.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_model_is_sent_as_provider_and_model_id()
    {
        var writer = new OpenCodeConfigWriter(Config);

        Assert.Equal(new Oubliette.Agents.AgentModel("claude", "claude-sonnet"), writer.ModelFor(Project(model: "sonnet"), null));
        Assert.Equal(new Oubliette.Agents.AgentModel("local", "qwen"), writer.ModelFor(Project(model: "sonnet"), "small"));
        Assert.Throws<Oubliette.Errors.InvalidArgumentException>(() => writer.ModelFor(Project(), "ghost"));
    }

    [Fact]
    public void The_agents_mcp_timeout_outlasts_the_longest_wait_an_agent_may_ask_for()
    {
        using var written = JsonDocument.Parse(new OpenCodeConfigWriter(Config).Write(Project(), "secret"));

        // caller_tool_timeout_seconds defaults to 60 (above the agent's 50 s wait cap), plus a 30 s margin.
        Assert.Equal(90_000, written.RootElement.GetProperty("mcp").GetProperty("oubliette").GetProperty("timeout").GetInt32());
        Assert.Equal(3_630_000, OpenCodeConfigWriter.McpTimeoutMilliseconds(Config.Server with { CallerToolTimeoutSeconds = 3600 }));
        Assert.Equal(80_000, OpenCodeConfigWriter.McpTimeoutMilliseconds(Config.Server with { CallerToolTimeoutSeconds = 5 }));
    }
}
