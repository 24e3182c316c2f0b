namespace Oubliette.Configuration;

/// <summary>The commented config file that <c>oubliette init</c> writes: every key with its default.</summary>
public static class ConfigTemplate
{
    /// <summary>
    /// The template with a first model filled in (provider credentials, <c>providers.default</c>, the model alias and
    /// <c>defaults.agent.model</c>), or the plain template when there is none. Values are JSON-escaped.
    /// </summary>
    public static string Render(FirstRunModel? model)
    {
        if (model is null)
        {
            return Text;
        }

        static string Json(string value) => System.Text.Json.JsonSerializer.Serialize(value);
        var credentials = string.Join("", model.Credentials.Select(credential =>
            $"\n        {Json(credential.Name)}: {{ \"provider\": {Json(credential.Provider)}, \"api_key\": {Json(credential.ApiKey)}"
            + (credential.BaseUrl is null ? "" : $", \"base_url\": {Json(credential.BaseUrl)}")
            + $", \"description\": {Json("from $" + credential.SourceVariable + " at init")} }},"));
        var text = Text;
        text = ReplaceOnce(text, """
                  "credentials": {},
                  // "default": "anthropic",
            """, $$"""
                  "credentials": {{{credentials}}
                  },
                  "default": {{Json(model.DefaultCredential)}},
            """);
        text = ReplaceOnce(text, """
                  // "model": "sonnet",       // an alias from models.models
            """, $$"""
                  "model": {{Json(FirstRunModel.Alias)}},        // an alias from models.models
            """);
        text = ReplaceOnce(text, """
                "models": {},
            """, $$"""
                "models": {
                  {{Json(FirstRunModel.Alias)}}: { "model": {{Json(model.Model)}}, "provider": {{Json(model.DefaultCredential)}} },
                },
            """);
        return text;
    }

    private static string ReplaceOnce(string text, string old, string replacement)
    {
        var at = text.IndexOf(old, StringComparison.Ordinal);
        return at >= 0 && text.IndexOf(old, at + 1, StringComparison.Ordinal) < 0
            ? string.Concat(text.AsSpan(0, at), replacement, text.AsSpan(at + old.Length))
            : throw new InvalidOperationException($"the config template no longer holds exactly one '{old.Trim()}'");
    }

    public const string Text = """
        // Oubliette configuration (JSON with comments; trailing commas allowed).
        // This file holds secrets (API keys, GitHub tokens): keep it mode 0600.
        // Every key is optional; the values shown are the defaults. Unknown keys are start-up errors.
        {
          "server": {
            // host:port the HTTP server (MCP at /mcp, /health, /ready, /metrics) listens on.
            "address": "127.0.0.1:8080",
            // Unix socket the agent containers reach the server through (default: data/run/gateway/gateway.sock).
            // Absolute or relative to this home, at most 107 bytes; its folder must exist, be owned by the server's
            // user, not be group- or world-writable, and is mounted into every container. Only a stale socket there
            // is ever removed.
            // "gateway_socket": "data/run/gateway/gateway.sock",
            // Largest request body accepted, in bytes.
            "max_request_body_bytes": 4194304,
            // How long a SIGTERM waits for in-flight requests to finish.
            "shutdown_timeout_seconds": 30,
            // Events kept per session for polling (older ones are dropped, and polls say how many).
            "event_buffer_size": 1000,
            // How long an agent's call of a caller tool waits for the caller's caller_tool_response.
            "caller_tool_timeout_seconds": 60,
            // Largest prompt/message of session spawn and message, in UTF-8 bytes (larger ones are refused).
            "max_prompt_bytes": 1048576,
            // Largest caller_tools (serialized) and caller_tool_response result or error, in bytes.
            "max_caller_payload_bytes": 1048576,
            // Longest text/input/output/message one session event keeps, in bytes (longer: cut, and marked "truncated": true).
            "max_event_bytes": 65536,
            // Approximate bytes of events kept per session; the oldest are dropped beyond it, as beyond event_buffer_size.
            "event_buffer_bytes": 8388608,
            // Approximate bytes of one events page (at least one event; continue from last_index or cursors).
            "max_events_page_bytes": 1048576,
          },

          "credentials": {
            "github": {
              // "credentials": { "work": { "token": "ghp_...", "description": "org repos", "hosts": ["github.com"] } },
              // A token is sent only to the hosts (host or host:port) in its "hosts" list (default ["github.com"]).
              "credentials": {},
              // "default": "work",
            },
            "providers": {
              // "credentials": {
              //   "anthropic": { "provider": "anthropic", "api_key": "sk-ant-..." },
              //   "local": { "provider": "openai-compatible", "api_key": "none", "base_url": "http://127.0.0.1:11434/v1" },
              // },
              "credentials": {},
              // "default": "anthropic",
            },
          },

          "defaults": {
            "limits": {
              "max_recursion_depth": 3,
              "max_agents_per_session": 50,
              "max_cost_usd": 10,
              "max_active_sessions_per_project": 10,
              "session_idle_timeout_minutes": 30,  // an idle session becomes timed_out (frees its slot; message it to resume)
            },
            "agent": {
              // "model": "sonnet",       // an alias from models.models
              "autonomy": "off",          // off | low | medium | high
              "reasoning": "off",         // off | low | medium | high
            },
            "container": {
              "type": "dev",              // a key of "containers"
              "memory": "4g",
              "cpus": 2,
              "network": "none",          // none keeps agents off the network: they reach models through the gateway
            },
            "backup": {
              "enabled": false,           // periodic project archives (on demand: oubliette backup create)
              "directory": "data/backups", // relative to the home; not inside data/projects/
              "retention": 7,             // archives kept per project (1-10000)
              "interval_hours": 24,       // the first one an interval after start (1-8760)
            },
            // Removes ended and timed-out sessions, expired tokens, leftover server temp files, stopped containers of
            // deleted projects (after retention_minutes) and old logs (logging.retention_days); never workspace files.
            "cleanup": {
              "interval_minutes": 5,
              "retention_minutes": 60,
            },
            // Per token, after authentication.
            "rate_limit": {
              "requests_per_second": 20,
              "burst": 40,
            },
          },

          // Container types and the images they run. A type of your own may carry a recipe, a folder with a Dockerfile
          // (FROM oubliette-agent:dev) or a Dockerfile, relative to the home, that 'oubliette image build --type <type>'
          // builds; then 'container refresh' moves projects onto the rebuilt image. See CONFIGURATION.md.
          "containers": {
            "base": "oubliette-agent:base",
            "dev": "oubliette-agent:dev",
            // "rust": { "image": "oubliette-agent:rust", "recipe": "recipes/rust" },
          },

          "models": {
            // "models": {
            //   "sonnet": { "model": "claude-sonnet-4-5", "provider": "anthropic", "displayName": "Claude Sonnet",
            //               "maxOutputTokens": 64000, "extraHeaders": {},
            //               "cost": { "input": 3, "output": 15 } },   // USD per million tokens, for budgets
            // },
            "models": {},
            // "defaults": { "session_model": "sonnet" },
            "defaults": {},
          },

          "logging": {
            "level": "information",       // trace | debug | information | warning | error
            "retention_days": 14,         // daily log files kept in data/logs/
          },

          // Where clones (project remote_url, workspace source) may come from. https:// to public hosts is always allowed.
          "git": {
            "allow_ssh": false,           // allow ssh:// sources
            // Hosts (host or host:port) that may be reached over http:// or on loopback/private addresses.
            "allowed_hosts": [],
            "allow_local_sources": false, // allow file:// URLs and host paths, for admin tokens only
          },

          "schedules": {
            // Executions kept per schedule in data/schedules.db (older ones are deleted after each run).
            "keep_executions": 100,
            // A due time found up to this many seconds late (a short restart, a slow wake) still runs, unless a later
            // due time has passed too; older ones were missed while the server was down: recorded once as skipped (missed).
            "missed_grace_seconds": 60,
            // Schedules that may target one project, and the largest schedule prompt (UTF-8 bytes).
            "max_per_project": 50,
            "max_prompt_bytes": 65536,
            // The shortest gap between runs a non-admin token may schedule (admin tokens may use any cron).
            "min_interval_seconds": 60,
          },
        }

        """;
}
