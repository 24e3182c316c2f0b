using System.Text.Json;
using System.Text.Json.Nodes;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Projects;

namespace Oubliette.Agents.OpenCode;

/// <summary>
/// The OpenCode config of a project container: every configured provider points at the gateway (which adds the real key
/// on the host), the container's gateway credential stands in for API keys, and autonomy becomes tool permissions.
/// </summary>
public sealed class OpenCodeConfigWriter(OublietteConfig config)
{
    public const int GatewayPort = 4097;
    public const int AgentPort = 4096;

    /// <summary>OpenCode names an MCP tool <c>&lt;server&gt;_&lt;tool&gt;</c>; the agent sees <c>oubliette_session</c>.</summary>
    public const string McpServerName = "oubliette";

    public string Write(ProjectMetadata project, string gatewaySecret)
    {
        var providers = new JsonObject();
        foreach (var (name, credential) in config.Credentials.Providers)
        {
            var models = new JsonObject();
            foreach (var (alias, model) in config.Models.Models.Where(pair => pair.Value.Provider == name))
            {
                var entry = new JsonObject { ["name"] = model.DisplayName ?? alias };
                if (model.MaxOutputTokens is { } output)
                {
                    entry["limit"] = new JsonObject { ["context"] = 200_000, ["output"] = output };
                }

                models[model.Model] = entry;
            }

            providers[name] = new JsonObject
            {
                ["npm"] = credential.Kind == "anthropic" ? "@ai-sdk/anthropic" : "@ai-sdk/openai-compatible",
                ["name"] = name,
                ["options"] = new JsonObject
                {
                    // The gateway maps /llm/<name>/<path> onto the credential's base URL (which carries the API version).
                    ["baseURL"] = $"http://127.0.0.1:{GatewayPort}/llm/{name}",
                    ["apiKey"] = gatewaySecret,
                },
                ["models"] = models,
            };
        }

        var root = new JsonObject
        {
            ["$schema"] = "https://opencode.ai/config.json",
            ["autoupdate"] = false,
            ["share"] = "disabled",
            ["provider"] = providers,
            ["permission"] = Permissions(project.Autonomy),
            // Oubliette's own tools for agents: the gateway's /mcp, which knows this container by its credential.
            ["mcp"] = new JsonObject
            {
                [McpServerName] = new JsonObject
                {
                    ["type"] = "remote",
                    ["url"] = $"http://127.0.0.1:{GatewayPort}/mcp",
                    ["headers"] = new JsonObject { ["Authorization"] = $"Bearer {gatewaySecret}" },
                    ["oauth"] = false,
                    ["enabled"] = true,
                    ["timeout"] = McpTimeoutMilliseconds(config.Server),
                },
            },
        };
        if (ModelFor(project, null) is { } chosen)
        {
            root["model"] = $"{chosen.ProviderId}/{chosen.ModelId}";
            root["small_model"] = $"{chosen.ProviderId}/{chosen.ModelId}";
        }

        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>
    /// How long the agent's MCP client waits for one call: longer than anything an agent may wait for (a caller tool's
    /// answer, <c>server.caller_tool_timeout_seconds</c>, or its own session wait / events long poll, capped at
    /// <see cref="Mcp.SessionTool.AgentWaitSeconds"/>), plus a margin, so the server always answers first.
    /// </summary>
    public static int McpTimeoutMilliseconds(ServerConfig server) =>
        (Math.Max(server.CallerToolTimeoutSeconds, Mcp.SessionTool.AgentWaitSeconds) + McpTimeoutMarginSeconds) * 1000;

    public const int McpTimeoutMarginSeconds = 30;

    /// <summary>The model a prompt runs on: the given alias, else the project's, else the defaults.</summary>
    public AgentModel? ModelFor(ProjectMetadata project, string? alias)
    {
        var chosen = alias ?? project.Model ?? config.Defaults.Agent.Model ?? config.Models.SessionModel;
        if (chosen is null)
        {
            return null;
        }

        return config.Models.Models.TryGetValue(chosen, out var model)
            ? new AgentModel(model.Provider, model.Model)
            : throw new InvalidArgumentException($"model '{chosen}' is not configured (configured: {(config.Models.Models.Count == 0 ? "none" : string.Join(", ", config.Models.Models.Keys))})");
    }

    // Headless sessions never wait for a human: a tool is allowed or denied, never "ask".
    private static JsonObject Permissions(string autonomy) => autonomy switch
    {
        "off" => new JsonObject { ["edit"] = "allow", ["bash"] = "allow", ["webfetch"] = "allow" },
        "low" => new JsonObject { ["edit"] = "allow", ["bash"] = "allow", ["webfetch"] = "deny" },
        "medium" => new JsonObject { ["edit"] = "allow", ["bash"] = "deny", ["webfetch"] = "deny" },
        _ => new JsonObject { ["edit"] = "deny", ["bash"] = "deny", ["webfetch"] = "deny" },
    };
}
