using Oubliette.Configuration;
using Oubliette.Testing;

namespace Oubliette.Tests.Configuration;

public sealed class ConfigParserTests
{
    private static ConfigException Invalid(string json) => Assert.Throws<ConfigException>(() => ConfigParser.Parse(json, "test.jsonc"));

    private static void AssertError(string json, string path, string reasonFragment)
    {
        var exception = Invalid(json);
        Assert.Contains(exception.Errors, error => error.Path == path && error.Reason.Contains(reasonFragment, StringComparison.Ordinal));
        Assert.Contains(path, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Init_template_parses_to_the_documented_defaults()
    {
        var config = ConfigParser.Parse(ConfigTemplate.Text, "template");

        Assert.Equal("127.0.0.1", config.Server.Host);
        Assert.Equal(8080, config.Server.Port);
        Assert.Equal(4 * 1024 * 1024, config.Server.MaxRequestBodyBytes);
        Assert.Equal((1024 * 1024, 1024 * 1024, 64 * 1024, 8L * 1024 * 1024, 1024 * 1024),
            (config.Server.MaxPromptBytes, config.Server.MaxCallerPayloadBytes, config.Server.MaxEventBytes, config.Server.EventBufferBytes, config.Server.MaxEventsPageBytes));
        Assert.Equal(new LimitsConfig(3, 50, 10, 10), config.Defaults.Limits);
        Assert.Equal(("off", "off"), (config.Defaults.Agent.Autonomy, config.Defaults.Agent.Reasoning));
        Assert.Equal(("dev", "4g", 4L * 1024 * 1024 * 1024, 2.0, "none"),
            (config.Defaults.Container.Type, config.Defaults.Container.Memory, config.Defaults.Container.MemoryBytes, config.Defaults.Container.Cpus, config.Defaults.Container.Network));
        Assert.Equal(new BackupConfig(false, "data/backups", 7, 24), config.Defaults.Backup);
        Assert.Equal(new CleanupConfig(5, 60), config.Defaults.Cleanup);
        Assert.Equal(new RateLimitConfig(20, 40), config.Defaults.RateLimit);
        Assert.Equal("oubliette-agent:dev", config.Containers["dev"]);
        Assert.Equal(new LoggingConfig("information", 14), config.Logging);
        Assert.Equal((false, false), (config.Git.AllowSsh, config.Git.AllowLocalSources));
        Assert.Empty(config.Git.AllowedHosts);
    }

    [Fact]
    public void Git_section_and_credential_hosts_are_read_with_defaults()
    {
        var config = ConfigParser.Parse("""
            {
              "git": { "allow_ssh": true, "allowed_hosts": ["127.0.0.1:3000", "git.local", "[::1]"], "allow_local_sources": true },
              "credentials": { "github": { "credentials": {
                "plain": { "token": "t1" },
                "ghe": { "token": "t2", "hosts": ["ghe.example:8443"] },
              } } },
            }
            """, "git");

        Assert.Equal((true, true), (config.Git.AllowSsh, config.Git.AllowLocalSources));
        Assert.Equal(["127.0.0.1:3000", "git.local", "[::1]"], config.Git.AllowedHosts);
        Assert.Equal(["github.com"], config.Credentials.Github["plain"].Hosts);
        Assert.Equal(["ghe.example:8443"], config.Credentials.Github["ghe"].Hosts);
        Assert.Equal(GitConfig.Default, ConfigParser.Parse("{}", "empty").Git with { AllowedHosts = GitConfig.Default.AllowedHosts });
    }

    [Fact]
    public void Bad_git_entries_are_all_listed()
    {
        var exception = Invalid("""
            {
              "git": { "allow_ssh": "yes", "allowed_hosts": ["ok.example", "http://x", "h:99999", 5, "::1"], "allow_local": true },
              "credentials": { "github": { "credentials": { "w": { "token": "t", "hosts": "github.com" } } } },
            }
            """);

        Assert.Equal(
            ["credentials.github.credentials.w.hosts", "git.allow_local", "git.allow_ssh", "git.allowed_hosts[1]", "git.allowed_hosts[2]", "git.allowed_hosts[3]", "git.allowed_hosts[4]"],
            exception.Errors.Select(error => error.Path).Order(StringComparer.Ordinal));
        Assert.Contains(exception.Errors, error => error.Reason.StartsWith("'http://x' is not a host name or IP address, optionally with :port", StringComparison.Ordinal));
        Assert.Contains(exception.Errors, error => error.Reason.StartsWith("expected an array of strings", StringComparison.Ordinal));
    }

    [Fact]
    public void Empty_object_gets_every_default()
    {
        var config = ConfigParser.Parse("{}", "empty");

        Assert.Equal("127.0.0.1:8080", config.Server.Address);
        Assert.Equal(new RateLimitConfig(20, 40), config.Defaults.RateLimit);
        Assert.Equal(["base", "dev"], config.Containers.Keys.Order());
    }

    [Fact]
    public void Comments_and_trailing_commas_are_accepted_and_every_set_value_is_honoured()
    {
        var config = ConfigParser.Parse("""
            // a comment
            {
              "server": { "address": "0.0.0.0:9090", "gateway_socket": "/run/gw.sock", /* inline */ },
              "credentials": {
                "github": { "credentials": { "work": { "token": "ghp_x", "description": "d" } }, "default": "work" },
                "providers": {
                  "credentials": { "local": { "provider": "openai-compatible", "api_key": "k", "base_url": "http://127.0.0.1:1/v1" } },
                  "default": "local",
                },
              },
              "defaults": {
                "limits": { "max_recursion_depth": 5, "max_agents_per_session": 7, "max_cost_usd": 2.5, "max_active_sessions_per_project": 3 },
                "agent": { "model": "fast", "autonomy": "high", "reasoning": "low" },
                "container": { "type": "custom", "memory": "512m", "cpus": 0.5, "network": "bridge" },
                "backup": { "enabled": true, "directory": "/backups", "retention": 3, "interval_hours": 6 },
                "cleanup": { "interval_minutes": 1, "retention_minutes": 2 },
                "rate_limit": { "requests_per_second": 100, "burst": 200 },
              },
              "containers": { "custom": "my/image:1" },
              "models": {
                "models": { "fast": { "model": "m1", "provider": "local", "displayName": "Fast", "maxOutputTokens": 1000, "extraHeaders": { "x-a": "b" } } },
                "defaults": { "session_model": "fast" },
              },
              "logging": { "level": "debug", "retention_days": 3 },
            }
            """, "custom");

        Assert.Equal(("0.0.0.0", 9090, "/run/gw.sock"), (config.Server.Host, config.Server.Port, config.Server.GatewaySocket));
        Assert.Equal("ghp_x", config.Credentials.Github["work"].Token);
        Assert.Equal("work", config.Credentials.GithubDefault);
        Assert.Equal(new ProviderCredential("openai-compatible", "k", "http://127.0.0.1:1/v1", null), config.Credentials.Providers["local"]);
        Assert.Equal(new LimitsConfig(5, 7, 2.5, 3), config.Defaults.Limits);
        Assert.Equal(new AgentConfig("fast", "high", "low"), config.Defaults.Agent);
        Assert.Equal(512L * 1024 * 1024, config.Defaults.Container.MemoryBytes);
        Assert.Equal((0.5, "bridge"), (config.Defaults.Container.Cpus, config.Defaults.Container.Network));
        Assert.Equal(new BackupConfig(true, "/backups", 3, 6), config.Defaults.Backup);
        Assert.Equal(new CleanupConfig(1, 2), config.Defaults.Cleanup);
        Assert.Equal(new RateLimitConfig(100, 200), config.Defaults.RateLimit);
        Assert.Equal("my/image:1", config.Containers["custom"]);
        Assert.Equal("b", config.Models.Models["fast"].ExtraHeaders["x-a"]);
        Assert.Equal(1000, config.Models.Models["fast"].MaxOutputTokens);
        Assert.Equal("fast", config.Models.SessionModel);
        Assert.Equal(new LoggingConfig("debug", 3), config.Logging);
    }

    [Fact]
    public void Malformed_json_names_the_line()
    {
        var exception = Invalid("{\n  \"server\": { \"address\": }\n}");

        var error = Assert.Single(exception.Errors);
        Assert.StartsWith("line 2", error.Path, StringComparison.Ordinal);
        Assert.Contains("not valid JSON", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Root_that_is_not_an_object_is_refused() =>
        AssertError("[1,2]", "(root)", "expected a JSON object");

    [Theory]
    [InlineData("""{ "sever": {} }""", "sever")]
    [InlineData("""{ "server": { "adress": "x" } }""", "server.adress")]
    [InlineData("""{ "defaults": { "limits": { "max_depth": 1 } } }""", "defaults.limits.max_depth")]
    [InlineData("""{ "models": { "models": { "a": { "model": "m", "provider": "p", "temperature": 1 } } } }""", "models.models.a.temperature")]
    public void Unknown_keys_are_refused_with_their_path(string json, string path) =>
        AssertError(json, path, "unknown key");

    [Theory]
    [InlineData("""{ "server": "x" }""", "server", "expected an object")]
    [InlineData("""{ "server": { "address": 8080 } }""", "server.address", "expected a string")]
    [InlineData("""{ "defaults": { "limits": { "max_recursion_depth": "3" } } }""", "defaults.limits.max_recursion_depth", "expected a whole number")]
    [InlineData("""{ "defaults": { "limits": { "max_recursion_depth": 1.5 } } }""", "defaults.limits.max_recursion_depth", "expected a whole number")]
    [InlineData("""{ "defaults": { "limits": { "max_cost_usd": "10" } } }""", "defaults.limits.max_cost_usd", "expected a number")]
    [InlineData("""{ "defaults": { "backup": { "enabled": "yes" } } }""", "defaults.backup.enabled", "expected true or false")]
    [InlineData("""{ "containers": { "dev": 1 } }""", "containers.dev", "expected a string")]
    [InlineData("""{ "credentials": { "github": { "credentials": { "w": "tok" } } } }""", "credentials.github.credentials.w", "expected an object")]
    public void Wrong_types_are_refused(string json, string path, string reason) => AssertError(json, path, reason);

    [Fact]
    public void A_burst_below_the_rate_is_refused_naming_both() =>
        AssertError("""{ "defaults": { "rate_limit": { "requests_per_second": 20, "burst": 5 } } }""", "defaults.rate_limit.burst",
            "5 is below requests_per_second 20 (allowed: 20 to 1000000)");

    [Theory]
    [InlineData("""{ "defaults": { "limits": { "max_recursion_depth": 33 } } }""", "defaults.limits.max_recursion_depth")]
    [InlineData("""{ "defaults": { "limits": { "max_agents_per_session": 0 } } }""", "defaults.limits.max_agents_per_session")]
    [InlineData("""{ "defaults": { "limits": { "max_cost_usd": -1 } } }""", "defaults.limits.max_cost_usd")]
    [InlineData("""{ "defaults": { "limits": { "max_active_sessions_per_project": 0 } } }""", "defaults.limits.max_active_sessions_per_project")]
    [InlineData("""{ "defaults": { "limits": { "session_idle_timeout_minutes": 10081 } } }""", "defaults.limits.session_idle_timeout_minutes")]
    [InlineData("""{ "defaults": { "container": { "cpus": 0 } } }""", "defaults.container.cpus")]
    [InlineData("""{ "defaults": { "rate_limit": { "requests_per_second": 0 } } }""", "defaults.rate_limit.requests_per_second")]
    [InlineData("""{ "defaults": { "cleanup": { "interval_minutes": 0 } } }""", "defaults.cleanup.interval_minutes")]
    [InlineData("""{ "defaults": { "cleanup": { "retention_minutes": 0 } } }""", "defaults.cleanup.retention_minutes")]
    [InlineData("""{ "defaults": { "backup": { "retention": 0 } } }""", "defaults.backup.retention")]
    [InlineData("""{ "server": { "max_request_body_bytes": 10 } }""", "server.max_request_body_bytes")]
    [InlineData("""{ "server": { "max_prompt_bytes": 0 } }""", "server.max_prompt_bytes")]
    [InlineData("""{ "server": { "max_caller_payload_bytes": 10 } }""", "server.max_caller_payload_bytes")]
    [InlineData("""{ "server": { "max_event_bytes": 1000 } }""", "server.max_event_bytes")]
    [InlineData("""{ "server": { "event_buffer_bytes": 4096 } }""", "server.event_buffer_bytes")]
    [InlineData("""{ "server": { "max_events_page_bytes": 1 } }""", "server.max_events_page_bytes")]
    [InlineData("""{ "logging": { "retention_days": 0 } }""", "logging.retention_days")]
    public void Out_of_range_numbers_are_refused(string json, string path) => AssertError(json, path, "out of range");

    [Theory]
    [InlineData("""{ "server": { "address": "8080" } }""", "server.address", "not a host:port")]
    [InlineData("""{ "server": { "address": "example.com:80" } }""", "server.address", "not a host:port")]
    [InlineData("""{ "server": { "address": "127.0.0.1:70000" } }""", "server.address", "not a host:port")]
    [InlineData("""{ "defaults": { "agent": { "autonomy": "max" } } }""", "defaults.agent.autonomy", "'max' is not allowed")]
    [InlineData("""{ "defaults": { "agent": { "reasoning": "extreme" } } }""", "defaults.agent.reasoning", "'extreme' is not allowed")]
    [InlineData("""{ "defaults": { "container": { "memory": "lots" } } }""", "defaults.container.memory", "'lots' is not a size")]
    [InlineData("""{ "defaults": { "container": { "memory": "1m" } } }""", "defaults.container.memory", "at least 64m")]
    [InlineData("""{ "defaults": { "container": { "network": "no network" } } }""", "defaults.container.network", "not a Docker network name")]
    [InlineData("""{ "logging": { "level": "loud" } }""", "logging.level", "'loud' is not allowed")]
    [InlineData("""{ "credentials": { "providers": { "credentials": { "x": { "provider": "gemini", "api_key": "k" } } } } }""", "credentials.providers.credentials.x.provider", "'gemini' is not allowed")]
    [InlineData("""{ "credentials": { "providers": { "credentials": { "x": { "provider": "openai-compatible", "api_key": "k" } } } } }""", "credentials.providers.credentials.x.base_url", "is required when provider is openai-compatible")]
    [InlineData("""{ "credentials": { "providers": { "credentials": { "x": { "provider": "openai", "api_key": "k", "base_url": "ftp://x" } } } } }""", "credentials.providers.credentials.x.base_url", "not an http(s) URL")]
    [InlineData("""{ "credentials": { "providers": { "credentials": { "x": { "provider": "openai" } } } } }""", "credentials.providers.credentials.x.api_key", "is required")]
    [InlineData("""{ "credentials": { "github": { "credentials": { "w": { "token": "" } } } } }""", "credentials.github.credentials.w.token", "is required")]
    public void Bad_values_are_refused(string json, string path, string reason) => AssertError(json, path, reason);

    [Fact]
    public void Memory_limits_are_read_and_an_event_buffer_smaller_than_one_event_is_refused()
    {
        var config = ConfigParser.Parse("""
            { "server": { "max_prompt_bytes": 4194304, "max_caller_payload_bytes": 2048, "max_event_bytes": 16384, "event_buffer_bytes": 65536, "max_events_page_bytes": 8192 } }
            """, "limits");

        Assert.Equal((4 * 1024 * 1024, 2048, 16384, 65536L, 8192),
            (config.Server.MaxPromptBytes, config.Server.MaxCallerPayloadBytes, config.Server.MaxEventBytes, config.Server.EventBufferBytes, config.Server.MaxEventsPageBytes));
        AssertError("""{ "server": { "max_event_bytes": 1048576, "event_buffer_bytes": 65536 } }""", "server.event_buffer_bytes", "less than max_event_bytes 1048576");
    }

    [Theory]
    [InlineData("""{ "credentials": { "github": { "default": "work" } } }""", "credentials.github.default")]
    [InlineData("""{ "credentials": { "providers": { "default": "anthropic" } } }""", "credentials.providers.default")]
    [InlineData("""{ "models": { "models": { "a": { "model": "m", "provider": "nobody" } } } }""", "models.models.a.provider")]
    [InlineData("""{ "models": { "defaults": { "session_model": "ghost" } } }""", "models.defaults.session_model")]
    [InlineData("""{ "defaults": { "agent": { "model": "ghost" } } }""", "defaults.agent.model")]
    [InlineData("""{ "defaults": { "container": { "type": "gpu" } } }""", "defaults.container.type")]
    public void Dangling_references_are_refused(string json, string path) => AssertError(json, path, "does not name any");

    [Fact]
    public void Every_problem_is_listed_not_only_the_first()
    {
        var exception = Invalid("""
            {
              "server": { "address": "nowhere", "colour": "red" },
              "defaults": { "limits": { "max_recursion_depth": -1 }, "agent": { "autonomy": "max" } },
              "models": { "defaults": { "session_model": "ghost" } },
            }
            """);

        Assert.Equal(
            ["defaults.agent.autonomy", "defaults.limits.max_recursion_depth", "models.defaults.session_model", "server.address", "server.colour"],
            exception.Errors.Select(error => error.Path).Order(StringComparer.Ordinal));
        Assert.Contains("5 problems", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_file_says_to_run_init()
    {
        var exception = Assert.Throws<ConfigException>(() => ConfigParser.Load("/nonexistent/oubliette.jsonc"));
        Assert.Contains("oubliette init", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_keys_are_an_error_naming_their_path()
    {
        var exception = Invalid("""
            {
              "server": { "port": 8080, "port": 9090 },
              "credentials": { "providers": { "anthropic": { "api_key": "a" }, "anthropic": { "api_key": "b" } } },
            }
            """);

        Assert.Contains(exception.Errors, error => error.Path == "server.port" && error.Reason.Contains("duplicate key", StringComparison.Ordinal));
        Assert.Contains(exception.Errors, error => error.Path == "credentials.providers.anthropic" && error.Reason.Contains("duplicate key", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("644")]
    [InlineData("640")]
    [InlineData("604")]
    [InlineData("660")]
    public void Config_readable_by_others_is_refused_with_the_fix(string octal)
    {
        var file = Path.Combine(Path.GetTempPath(), $"oubliette-mode-{Guid.NewGuid():N}.jsonc");
        File.WriteAllText(file, "{}");
        try
        {
            File.SetUnixFileMode(file, (UnixFileMode)Convert.ToInt32(octal, 8));
            var exception = Assert.Throws<ConfigException>(() => ConfigParser.Load(file));
            Assert.Contains(file, exception.Message, StringComparison.Ordinal);
            Assert.Contains($"mode 0{octal}", exception.Message, StringComparison.Ordinal);
            Assert.Contains($"chmod 600 {file}", exception.Message, StringComparison.Ordinal);

            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            Assert.Equal(8080, ConfigParser.Load(file).Server.Port);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Test_homes_write_their_config_owner_only()
    {
        await using var home = await TestHome.CreateAsync();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(home.Home.ConfigFile));
    }

    [Fact]
    public void Test_config_listens_on_a_free_port() =>
        Assert.Equal(0, ConfigParser.Parse(TestHome.DefaultConfig, "test").Server.Port);

    [Theory]
    [InlineData(null, "/env", "/cwd", "/env")]
    [InlineData("/flag", "/env", "/cwd", "/flag")]
    [InlineData("rel", null, "/cwd", "/cwd/rel")]
    [InlineData(null, null, "/cwd", "/home/u/.oubliette")]
    public void Home_resolution_follows_flag_then_environment_then_defaults(string? flag, string? environment, string cwd, string expected)
    {
        var home = OublietteHome.Resolve(flag, name => name == OublietteHome.HomeEnvironmentVariable ? environment : null, cwd, "/home/u");
        Assert.Equal(expected, home.Root);
    }

    [Fact]
    public void Home_resolution_prefers_a_local_dot_oubliette_over_the_user_home()
    {
        var cwd = Directory.CreateTempSubdirectory().FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(cwd, ".oubliette"));
            Assert.Equal(Path.Combine(cwd, ".oubliette"), OublietteHome.Resolve(null, _ => null, cwd, "/home/u").Root);
        }
        finally
        {
            Directory.Delete(cwd, recursive: true);
        }
    }
}
