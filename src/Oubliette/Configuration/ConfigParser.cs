using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Oubliette.Configuration;

/// <summary>
/// Turns the text of <c>oubliette.jsonc</c> into an <see cref="OublietteConfig"/>, or a <see cref="ConfigException"/>
/// listing every problem: syntax, unknown keys, wrong types, ranges and dangling references.
/// </summary>
public static partial class ConfigParser
{
    public static readonly IReadOnlyList<string> Levels = ["off", "low", "medium", "high"];
    public static readonly IReadOnlyList<string> ProviderKinds = ["anthropic", "openai", "openai-compatible"];

    /// <summary>The value when it is one of <see cref="Levels"/>, else a clear error naming the field.</summary>
    public static string RequireLevel(string field, string value) =>
        Levels.Contains(value, StringComparer.Ordinal)
            ? value
            : throw new Errors.InvalidArgumentException($"{field} '{value}' is not valid (allowed: {string.Join(", ", Levels)})");

    public static OublietteConfig Load(string file)
    {
        if (!File.Exists(file))
        {
            throw new ConfigException(file, [new ConfigError("(file)", "not found; run 'oubliette init' to create it")]);
        }

        RequireOwnerOnly(file);
        return Parse(File.ReadAllText(file), file);
    }

    /// <summary>
    /// The config holds provider keys and credentials: a file other users may read (or write) is refused, not warned
    /// about, since a warning in a log changes nothing while the keys stay readable.
    /// </summary>
    internal static void RequireOwnerOnly(string file)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        const UnixFileMode others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        var mode = File.GetUnixFileMode(file);
        if ((mode & others) != 0)
        {
            throw new ConfigException(file, [new ConfigError("(file)",
                $"mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')} lets other users read or change it, and it holds keys; make it owner-only: chmod 600 {file}")]);
        }
    }

    public static OublietteConfig Parse(string text, string file)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, new JsonDocumentOptions
            {
                CommentHandling = JsonCommentHandling.Skip,
                AllowTrailingCommas = true,
            });
        }
        catch (JsonException exception)
        {
            var where = exception.LineNumber is { } line ? $"line {line + 1}, column {exception.BytePositionInLine + 1}" : "(file)";
            throw new ConfigException(file, [new ConfigError(where, $"not valid JSON: {FirstSentence(exception.Message)}")]);
        }

        using (document)
        {
            var errors = new List<ConfigError>();
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ConfigException(file, [new ConfigError("(root)", "expected a JSON object")]);
            }

            FindDuplicateKeys(document.RootElement, "", errors);
            var config = Read(ConfigReader.Root(document.RootElement, errors), file);
            CheckReferences(config, errors);
            if (errors.Count > 0)
            {
                throw new ConfigException(file, errors);
            }

            return config;
        }
    }

    /// <summary>A key given twice in one object: JSON readers keep one of the two silently, so neither is trusted.</summary>
    private static void FindDuplicateKeys(JsonElement element, string path, List<ConfigError> errors)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in element.EnumerateObject())
            {
                var child = path.Length == 0 ? property.Name : $"{path}.{property.Name}";
                if (!seen.Add(property.Name))
                {
                    errors.Add(new ConfigError(child, "duplicate key: it is given more than once in the same object; keep one"));
                }

                FindDuplicateKeys(property.Value, child, errors);
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var item in element.EnumerateArray())
            {
                FindDuplicateKeys(item, $"{path}[{index++}]", errors);
            }
        }
    }

    private static OublietteConfig Read(ConfigReader root, string file)
    {
        root.RejectUnknownKeys("server", "credentials", "defaults", "containers", "models", "logging", "git", "schedules");
        var (containers, recipes) = ReadContainers(root, file);
        return new OublietteConfig
        {
            Server = ReadServer(root.Section("server")),
            Credentials = ReadCredentials(root.Section("credentials")),
            Defaults = ReadDefaults(root.Section("defaults")),
            Containers = containers.Count > 0
                ? containers
                : new Dictionary<string, string> { ["base"] = "oubliette-agent:base", ["dev"] = "oubliette-agent:dev" },
            ContainerRecipes = recipes,
            Models = ReadModels(root.Section("models")),
            Logging = ReadLogging(root.Section("logging")),
            Git = ReadGit(root.Section("git")),
            Schedules = ReadSchedules(root.Section("schedules")),
        };
    }

    private static ServerConfig ReadServer(ConfigReader server)
    {
        server.RejectUnknownKeys("address", "gateway_socket", "max_request_body_bytes", "shutdown_timeout_seconds", "event_buffer_size", "caller_tool_timeout_seconds",
            "max_prompt_bytes", "max_caller_payload_bytes", "max_event_bytes", "event_buffer_bytes", "max_events_page_bytes");
        var address = server.String("address", "127.0.0.1:8080");
        var (host, port) = ParseAddress(address, server);
        var maxEventBytes = server.Int("max_event_bytes", 64 * 1024, 16 * 1024, 16 * 1024 * 1024);
        var eventBufferBytes = server.Int("event_buffer_bytes", 8 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024);
        var maxEventsPageBytes = server.Int("max_events_page_bytes", 1024 * 1024, 4096, 256 * 1024 * 1024);
        // One event always fits in the buffer and in a page: a limit below one event would keep or show nothing.
        if (eventBufferBytes < maxEventBytes)
        {
            server.Error("event_buffer_bytes", $"{eventBufferBytes} is less than max_event_bytes {maxEventBytes}: the buffer must hold at least one whole event");
        }

        return new ServerConfig
        {
            Host = host,
            Port = port,
            GatewaySocket = server.OptionalString("gateway_socket"),
            MaxRequestBodyBytes = server.Int("max_request_body_bytes", 4 * 1024 * 1024, 1024, 256 * 1024 * 1024),
            ShutdownTimeoutSeconds = server.Int("shutdown_timeout_seconds", 30, 1, 600),
            EventBufferSize = server.Int("event_buffer_size", 1000, 10, 1_000_000),
            CallerToolTimeoutSeconds = server.Int("caller_tool_timeout_seconds", 60, 1, 3600),
            MaxPromptBytes = server.Int("max_prompt_bytes", 1024 * 1024, 1, 256 * 1024 * 1024),
            MaxCallerPayloadBytes = server.Int("max_caller_payload_bytes", 1024 * 1024, 1024, 256 * 1024 * 1024),
            MaxEventBytes = maxEventBytes,
            EventBufferBytes = eventBufferBytes,
            MaxEventsPageBytes = maxEventsPageBytes,
        };
    }

    private static (string Host, int Port) ParseAddress(string address, ConfigReader server)
    {
        var colon = address.LastIndexOf(':');
        var host = colon > 0 ? address[..colon].Trim('[', ']') : "";
        var portText = colon > 0 ? address[(colon + 1)..] : "";
        var hostValid = host == "localhost" || IPAddress.TryParse(host, out _);
        if (!hostValid || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            server.Error("address", $"'{address}' is not a host:port address (for example 127.0.0.1:8080; host is an IP address or localhost, port 0..65535)");
            return ("127.0.0.1", 8080);
        }

        return (host, port);
    }

    private static CredentialsConfig ReadCredentials(ConfigReader credentials)
    {
        credentials.RejectUnknownKeys("github", "providers");
        var github = credentials.Section("github");
        github.RejectUnknownKeys("credentials", "default");
        var providers = credentials.Section("providers");
        providers.RejectUnknownKeys("credentials", "default");
        return new CredentialsConfig
        {
            Github = github.Map("credentials", (_, entry) =>
            {
                entry.RejectUnknownKeys("token", "description", "hosts");
                var hosts = HostList(entry, "hosts");
                return new GithubCredential(entry.RequiredString("token"), entry.OptionalString("description"))
                {
                    Hosts = hosts ?? GithubCredential.DefaultHosts,
                };
            }),
            GithubDefault = github.OptionalString("default"),
            Providers = providers.Map("credentials", (_, entry) =>
            {
                entry.RejectUnknownKeys("provider", "api_key", "base_url", "description");
                var kind = entry.OneOf("provider", "openai-compatible", [.. ProviderKinds]);
                var baseUrl = entry.OptionalString("base_url");
                if (baseUrl is not null && !IsHttpUrl(baseUrl))
                {
                    entry.Error("base_url", $"'{baseUrl}' is not an http(s) URL");
                }
                else if (baseUrl is null && kind == "openai-compatible")
                {
                    entry.Error("base_url", "is required when provider is openai-compatible");
                }

                return new ProviderCredential(kind, entry.RequiredString("api_key"), baseUrl, entry.OptionalString("description"));
            }),
            ProvidersDefault = providers.OptionalString("default"),
        };
    }

    private static GitConfig ReadGit(ConfigReader git)
    {
        git.RejectUnknownKeys("allow_ssh", "allowed_hosts", "allow_local_sources");
        return new GitConfig(git.Bool("allow_ssh", false), HostList(git, "allowed_hosts") ?? [], git.Bool("allow_local_sources", false));
    }

    private static SchedulesConfig ReadSchedules(ConfigReader schedules)
    {
        schedules.RejectUnknownKeys("keep_executions", "missed_grace_seconds", "max_per_project", "max_prompt_bytes", "min_interval_seconds");
        return new SchedulesConfig(
            schedules.Int("keep_executions", SchedulesConfig.Default.KeepExecutions, 1, 1_000_000),
            schedules.Int("missed_grace_seconds", SchedulesConfig.Default.MissedGraceSeconds, 1, 24 * 3600),
            schedules.Int("max_per_project", SchedulesConfig.Default.MaxPerProject, 1, 10_000),
            schedules.Int("max_prompt_bytes", SchedulesConfig.Default.MaxPromptBytes, 1, 16 * 1024 * 1024),
            schedules.Int("min_interval_seconds", SchedulesConfig.Default.MinIntervalSeconds, 0, 24 * 3600));
    }

    /// <summary>A list of host or host:port entries, each checked; null when absent.</summary>
    private static IReadOnlyList<string>? HostList(ConfigReader section, string key) =>
        section.OptionalStringList(key, entry => GitConfig.TryParseHostEntry(entry, out _, out _) ? null : $"'{entry}' is not {GitConfig.HostEntryFormat}");

    private static DefaultsConfig ReadDefaults(ConfigReader defaults)
    {
        defaults.RejectUnknownKeys("limits", "agent", "container", "backup", "cleanup", "rate_limit");

        var limits = defaults.Section("limits");
        limits.RejectUnknownKeys("max_recursion_depth", "max_agents_per_session", "max_cost_usd", "max_active_sessions_per_project", "session_idle_timeout_minutes");
        var agent = defaults.Section("agent");
        agent.RejectUnknownKeys("model", "autonomy", "reasoning");
        var container = defaults.Section("container");
        container.RejectUnknownKeys("type", "memory", "cpus", "network");
        var backup = defaults.Section("backup");
        backup.RejectUnknownKeys("enabled", "directory", "retention", "interval_hours");
        var cleanup = defaults.Section("cleanup");
        cleanup.RejectUnknownKeys("interval_minutes", "retention_minutes");
        var rateLimit = defaults.Section("rate_limit");
        rateLimit.RejectUnknownKeys("requests_per_second", "burst");

        var memory = container.String("memory", "4g");
        var memoryBytes = ParseMemory(memory);
        if (memoryBytes is null)
        {
            container.Error("memory", $"'{memory}' is not a size of at least 64m (a number with b, k, m or g, for example 4g)");
        }

        var network = container.String("network", "none");
        if (!NetworkName().IsMatch(network))
        {
            container.Error("network", $"'{network}' is not a Docker network name (letters, digits, '.', '_', '-')");
        }

        var requestsPerSecond = rateLimit.Int("requests_per_second", 20, 1, 1_000_000);
        var burst = rateLimit.Int("burst", Math.Max(40, requestsPerSecond), 1, 1_000_000);
        if (burst < requestsPerSecond)
        {
            // A bucket smaller than one second's refill caps the rate at the burst: the configured rate would be a lie.
            rateLimit.Error("burst", $"{burst} is below requests_per_second {requestsPerSecond} (allowed: {requestsPerSecond} to 1000000)");
        }

        return new DefaultsConfig
        {
            Limits = new LimitsConfig(
                limits.Int("max_recursion_depth", 3, 0, 32),
                limits.Int("max_agents_per_session", 50, 1, 10_000),
                limits.Double("max_cost_usd", 10, 0, 1_000_000),
                limits.Int("max_active_sessions_per_project", 10, 1, 1_000),
                limits.Int("session_idle_timeout_minutes", 30, 1, 7 * 24 * 60)),
            Agent = new AgentConfig(
                agent.OptionalString("model"),
                agent.OneOf("autonomy", "off", [.. Levels]),
                agent.OneOf("reasoning", "off", [.. Levels])),
            Container = new ContainerConfig(
                container.String("type", "dev"),
                memory,
                memoryBytes ?? 4L * 1024 * 1024 * 1024,
                container.Double("cpus", 2, 0.1, 256),
                network),
            Backup = new BackupConfig(
                backup.Bool("enabled", false),
                backup.String("directory", "data/backups"),
                backup.Int("retention", 7, 1, 10_000),
                backup.Int("interval_hours", 24, 1, 24 * 365)),
            Cleanup = new CleanupConfig(
                cleanup.Int("interval_minutes", 5, 1, 24 * 60),
                cleanup.Int("retention_minutes", 60, 1, 365 * 24 * 60)),
            RateLimit = new RateLimitConfig(requestsPerSecond, burst),
        };
    }

    private static ModelsConfig ReadModels(ConfigReader models)
    {
        models.RejectUnknownKeys("models", "defaults");
        var aliases = models.Map("models", (_, entry) =>
        {
            entry.RejectUnknownKeys("model", "provider", "displayName", "baseUrl", "maxOutputTokens", "extraHeaders", "cost");
            var baseUrl = entry.OptionalString("baseUrl");
            if (baseUrl is not null && !IsHttpUrl(baseUrl))
            {
                entry.Error("baseUrl", $"'{baseUrl}' is not an http(s) URL");
            }

            return new ModelConfig(
                entry.RequiredString("model"),
                entry.RequiredString("provider"),
                entry.OptionalString("displayName"),
                baseUrl,
                entry.OptionalInt("maxOutputTokens", 1, 10_000_000),
                entry.StringMap("extraHeaders"),
                ReadCost(entry.Section("cost")));
        });
        var defaults = models.Section("defaults");
        defaults.RejectUnknownKeys("session_model");
        return new ModelsConfig(aliases, defaults.OptionalString("session_model"));
    }

    private static ModelCost ReadCost(ConfigReader cost)
    {
        cost.RejectUnknownKeys("input", "output");
        return new ModelCost(cost.Double("input", 0, 0, 1_000_000), cost.Double("output", 0, 0, 1_000_000));
    }

    private static LoggingConfig ReadLogging(ConfigReader logging)
    {
        logging.RejectUnknownKeys("level", "retention_days");
        return new LoggingConfig(
            logging.OneOf("level", "information", "trace", "debug", "information", "warning", "error"),
            logging.Int("retention_days", 14, 1, 3650));
    }

    private static void CheckReferences(OublietteConfig config, List<ConfigError> errors)
    {
        void Dangling(string path, string value, string what, IEnumerable<string> known) =>
            errors.Add(new ConfigError(path, $"'{value}' does not name any {what} (defined: {Known(known)})"));

        var credentials = config.Credentials;
        if (credentials.GithubDefault is { } github && !credentials.Github.ContainsKey(github))
        {
            Dangling("credentials.github.default", github, "entry of credentials.github.credentials", credentials.Github.Keys);
        }

        if (credentials.ProvidersDefault is { } provider && !credentials.Providers.ContainsKey(provider))
        {
            Dangling("credentials.providers.default", provider, "entry of credentials.providers.credentials", credentials.Providers.Keys);
        }

        foreach (var (alias, model) in config.Models.Models)
        {
            if (model.Provider.Length > 0 && !credentials.Providers.ContainsKey(model.Provider))
            {
                Dangling($"models.models.{alias}.provider", model.Provider, "entry of credentials.providers.credentials", credentials.Providers.Keys);
            }
        }

        if (config.Models.SessionModel is { } sessionModel && !config.Models.Models.ContainsKey(sessionModel))
        {
            Dangling("models.defaults.session_model", sessionModel, "model in models.models", config.Models.Models.Keys);
        }

        if (config.Defaults.Agent.Model is { } agentModel && !config.Models.Models.ContainsKey(agentModel))
        {
            Dangling("defaults.agent.model", agentModel, "model in models.models", config.Models.Models.Keys);
        }

        if (!config.Containers.ContainsKey(config.Defaults.Container.Type))
        {
            Dangling("defaults.container.type", config.Defaults.Container.Type, "container type in containers", config.Containers.Keys);
        }
    }

    private static string Known(IEnumerable<string> names)
    {
        var list = names.ToList();
        return list.Count == 0 ? "none" : string.Join(", ", list);
    }

    /// <summary>Parses Docker-style sizes (<c>512m</c>, <c>4g</c>); null when malformed or below 64 MiB.</summary>
    internal static long? ParseMemory(string text)
    {
        var match = MemorySize().Match(text);
        if (!match.Success || !long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return null;
        }

        var multiplier = match.Groups[2].Value.ToLowerInvariant() switch
        {
            "k" => 1024L,
            "m" => 1024L * 1024,
            "g" => 1024L * 1024 * 1024,
            _ => 1L,
        };
        var bytes = number * multiplier;
        return bytes >= 64L * 1024 * 1024 && number < long.MaxValue / multiplier ? bytes : null;
    }

    private static bool IsHttpUrl(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    [GeneratedRegex(@"^(\d{1,12})([bkmgBKMG]?)$")]
    private static partial Regex MemorySize();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex NetworkName();
}
