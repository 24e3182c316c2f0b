using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Console;
using Oubliette.Errors;
using Oubliette.Agents;
using Oubliette.Agents.OpenCode;
using Oubliette.Auth;
using Oubliette.Gateway;
using Oubliette.Sessions;
using Oubliette.Configuration;
using Oubliette.Containers;
using Oubliette.Containers.Docker;
using Oubliette.Projects;
using Oubliette.Schedules;
using Oubliette.Mcp;
using Oubliette.Operations;
using Oubliette.Operations.Logging;
using Oubliette.Storage;
using Prometheus;

namespace Oubliette.Hosting;

/// <summary>
/// The running HTTP server: composition root, middleware order and endpoints (<c>/health</c>, <c>/ready</c>,
/// <c>/metrics</c>, <c>/mcp</c>). Started by the CLI and by in-process tests alike.
/// </summary>
public sealed class OublietteServer : IAsyncDisposable
{
    private const string RateLimitPolicy = "per-token";
    private readonly WebApplication _app;

    private OublietteServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The address actually bound (the real port when the config asked for port 0).</summary>
    public Uri Address { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<OublietteServer> StartAsync(OublietteHome home, OublietteConfig config, ServerHostOptions options, CancellationToken cancellationToken)
    {
        home.EnsureDataDirectories();
        var app = Build(home, config, options);
        try
        {
            await app.Services.GetRequiredService<TokenStore>().InitializeAsync(cancellationToken);
            await app.Services.GetRequiredService<ScheduleStore>().InitializeAsync(cancellationToken);
            await app.StartAsync(cancellationToken);
        }
        catch (IOException exception) when (exception.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            await app.DisposeAsync();
            throw new ConflictException(
                $"server.address {config.Server.Host}:{config.Server.Port} is already in use (another Oubliette? 'oubliette status' shows this home's server): "
                + $"stop what listens there, or set another server.address in {home.ConfigFile}");
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        // The agent user (uid 1000) in containers connects to the gateway socket; the folder around it holds nothing else.
        var gatewaySocket = app.Services.GetRequiredService<ProjectPaths>().GatewaySocket;
        File.SetUnixFileMode(gatewaySocket, (UnixFileMode)Convert.ToInt32("666", 8));
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault(address => address.StartsWith("http://", StringComparison.Ordinal) && !address.Contains("unix:", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("the server reported no listening address");
        return new OublietteServer(app, new Uri(bound.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)));
    }

    /// <summary>Completes when the host has been asked to stop (SIGTERM, SIGINT, or the token).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken) => _app.WaitForShutdownAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => _app.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        var home = _app.Services.GetRequiredService<OublietteHome>();
        var time = _app.Services.GetRequiredService<TimeProvider>();
        await _app.DisposeAsync();
        SqliteConnection.ClearAllPools();
        // The loggers went with the app: the last line goes to the file directly.
        DailyFileLoggerProvider.AppendDirect(home.LogsDirectory, time, LogLevel.Information, typeof(OublietteServer).FullName!,
            "shutdown: databases closed (data/auth.db, data/schedules.db)");
    }

    private static WebApplication Build(OublietteHome home, OublietteConfig config, ServerHostOptions options)
    {
        // The content root is the install folder and config is never reloaded: a root in the home would put a recursive
        // file watcher on the data folder, waking on every log write and every file an agent touches in a workspace.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        ConfigureLogging(builder.Logging, home, config, options);
        ConfigureKestrel(builder.WebHost, config.Server, GatewaySocketPath.Prepare(home, config.Server));
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(config.Server.ShutdownTimeoutSeconds));
        AddServices(builder.Services, home, config, options);
        options.ConfigureServices?.Invoke(builder.Services);
        AddHttpSecurity(builder.Services, home, config.Defaults.RateLimit);
        builder.Services.AddOublietteMcp();

        var app = builder.Build();
        app.UseRouting();
        app.UseMiddleware<RequestTelemetryMiddleware>();
        app.UseMiddleware<GatewaySocketGuard>();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.UseMiddleware<RequestBodyBufferingMiddleware>();
        app.UseMiddleware<Mcp.McpGetStreamReplacement>();
        app.Use((context, next) => context.RequestServices.GetRequiredService<LiveMcpSessions>().GuardDeleteAsync(context, () => next(context)));
        MapEndpoints(app);
        return app;
    }

    private static void ConfigureLogging(ILoggingBuilder logging, OublietteHome home, OublietteConfig config, ServerHostOptions options)
    {
        var level = Enum.Parse<LogLevel>(config.Logging.Level, ignoreCase: true);
        logging.ClearProviders();
        logging.SetMinimumLevel(level);
        // The access log is ours; the framework's own per-request lines would only repeat it.
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        logging.AddFilter("ModelContextProtocol", LogLevel.Warning);
        logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
        // Gateway calls carry a container credential, not a token: the handler's "not authenticated" is expected there.
        logging.AddFilter(typeof(BearerAuthenticationHandler).FullName, LogLevel.Warning);
        // Its keys live in data/run/keys (0700); the warning about unencrypted keys at rest says nothing new.
        logging.AddFilter("Microsoft.AspNetCore.DataProtection", LogLevel.Error);
        // Made by the container (not AddProvider's instance, which nothing disposes), so that disposing the app drains
        // the file's last lines, the shutdown report among them, before the process exits.
        logging.Services.AddSingleton<ILoggerProvider>(_ =>
            new ClientMistakeLoggerProvider(new DailyFileLoggerProvider(home.LogsDirectory, config.Logging.RetentionDays, level, options.Time)));
        if (options.ConsoleLogging)
        {
            logging.AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "HH:mm:ss ";
            });
            // The console is for the operator watching: the per-request access log stays in the file, and when whoever
            // reads the console falls behind, lines are dropped there instead of blocking request threads.
            logging.AddFilter<ConsoleLoggerProvider>(typeof(RequestTelemetryMiddleware).FullName, LogLevel.Warning);
            // A start-up failure reaches the console once, as the CLI's one-line "error: …"; the host's own
            // "Hosting failed to start" (an error with the whole stack) stays in the file. Its critical line, a
            // background service stopping the host, still shows.
            logging.AddFilter<ConsoleLoggerProvider>("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
            logging.Services.Configure<ConsoleLoggerOptions>(console => console.QueueFullMode = ConsoleLoggerQueueFullMode.DropWrite);
        }
    }

    private static void ConfigureKestrel(IWebHostBuilder webHost, ServerConfig server, string gatewaySocket)
    {
        webHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ListenUnixSocket(gatewaySocket);
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = server.MaxRequestBodyBytes;
            var address = server.Host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(server.Host);
            kestrel.Listen(address, server.Port);
        });
    }

    private static void AddServices(IServiceCollection services, OublietteHome home, OublietteConfig config, ServerHostOptions options)
    {
        services.AddSingleton(home);
        services.AddSingleton(config);
        services.AddSingleton(options.Time);
        services.AddSingleton(new OublietteMetrics(options.MetricsRegistry ?? Metrics.NewCustomRegistry()));
        services.AddSingleton(new AuditLog(home.AuditLog, options.Time));
        // Created by the container so that it is disposed with it (it keeps a connection open for authentication).
        services.AddSingleton(provider => new TokenStore(new SqliteDatabase(home.AuthDatabase), provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton<LastUsedTracker>();
        services.AddSingleton<TokenService>();
        services.AddSingleton<Authorizer>();
        // First of the hosted services, so stopped last: it reports what the stop did (see the type).
        services.AddHostedService<ShutdownReportService>();
        services.AddHostedService<LastUsedFlushService>();

        services.AddSingleton<IReadinessCheck>(provider => new DatabaseReadinessCheck("auth_db", provider.GetRequiredService<TokenStore>().Database));
        services.AddSingleton<IReadinessCheck>(provider => new DatabaseReadinessCheck("schedules_db", provider.GetRequiredService<ScheduleStore>().Database));
        services.AddSingleton<IReadinessCheck>(new DataDirectoryReadinessCheck(home.DataDirectory));
        services.AddSingleton<IReadinessCheck, ContainerRuntimeReadinessCheck>();

        services.AddSingleton<IContainerRuntime>(new DockerContainerRuntime(options.DockerHost));
        services.AddSingleton(new ContainerLabelSet(options.ContainerLabels));
        services.AddSingleton<ProjectPaths>();
        services.AddSingleton<ProjectStore>();
        services.AddSingleton<KeyedLocks>();
        services.AddSingleton<GitWorkspaces>();
        services.AddSingleton<CloneSourcePolicy>();
        services.AddSingleton<ProjectContainers>();
        services.AddSingleton<ProjectService>();
        services.AddHostedService<ContainerReattachService>();
        services.AddSingleton<ActiveSessionCounts>();
        services.AddSingleton<AgentEventHub>();
        services.AddSingleton<GatewayCredentials>();
        services.AddSingleton<IProjectTeardown, AgentTeardown>();
        services.AddSingleton<OpenCodeConfigWriter>();
        services.AddSingleton<IAgentRuntime, OpenCodeRuntime>();
        services.AddSingleton<SessionStore>();
        services.AddSingleton<SessionService>();
        services.AddSingleton<AgentToolCalls>();
        services.AddSingleton<CallerToolBroker>();
        services.AddHostedService<SessionRecoveryService>();
        services.AddSingleton<LlmRelay>();
        services.AddHttpClient(LlmRelay.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AutomaticDecompression = System.Net.DecompressionMethods.None, UseProxy = false });
        services.AddSingleton<ReadinessService>();

        // data/schedules.db, the tool's service and the runner (after SessionRecoveryService: pinned sessions are loaded first).
        services.AddSingleton(provider => new ScheduleStore(new SqliteDatabase(home.SchedulesDatabase, foreignKeys: true), provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IScheduleRunStore>(provider => provider.GetRequiredService<ScheduleStore>());
        services.AddSingleton<ScheduleService>();
        ScheduleRunnerRegistration.Add(services);
        Cleanup.CleanupRegistration.Add(services);
        services.AddHostedService<Operations.Backups.BackupService>();
    }

    private static void AddHttpSecurity(IServiceCollection services, OublietteHome home, RateLimitConfig rateLimit)
    {
        services.AddAuthentication(OublietteClaims.Scheme)
            .AddScheme<AuthenticationSchemeOptions, BearerAuthenticationHandler>(OublietteClaims.Scheme, configureOptions: null);
        services.AddAuthorization();
        // The framework's key ring (pulled in by authentication) belongs under the Oubliette home, not in ~/.aspnet.
        services.AddDataProtection().PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(home.RunDirectory, "keys")));
        services.AddRateLimiter(limiter =>
        {
            limiter.AddPolicy(RateLimitPolicy, context => RateLimitPartition.GetTokenBucketLimiter(
                OublietteClaims.ToCaller(context.User)?.TokenId ?? "anonymous",
                _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = rateLimit.Burst,
                    TokensPerPeriod = rateLimit.RequestsPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                }));
            limiter.OnRejected = async (rejected, cancellationToken) =>
            {
                var seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
                    ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
                    : 1;
                rejected.HttpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await JsonRpcError.WriteAsync(rejected.HttpContext, StatusCodes.Status429TooManyRequests, JsonRpcError.RateLimited,
                    $"rate limit exceeded: {rateLimit.RequestsPerSecond} requests per second (burst {rateLimit.Burst}) per token; retry after {seconds} s",
                    cancellationToken);
            };
        });
    }

    private static void MapEndpoints(WebApplication app)
    {
        // The version lets an operator confirm an upgrade from outside (SPEC §3; issue 15).
        // Relaxed escaping keeps the version's '+' readable to curl; the value is our own build string, never input.
        var healthJson = new HostingJsonContext(new System.Text.Json.JsonSerializerOptions(HostingJsonContext.Default.Options) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        var health = System.Text.Json.JsonSerializer.Serialize(new HealthBody("ok", BuildVersion.Current), healthJson.HealthBody);
        app.MapGet("/health", () => Results.Text(health, "application/json"));
        app.MapGet("/ready", async (ReadinessService readiness, CancellationToken cancellationToken) =>
        {
            var report = await readiness.GetAsync(cancellationToken);
            return Results.Json(
                new ReadinessBody(report.Ready ? "ready" : "not_ready", report.Checks),
                HostingJsonContext.Default.ReadinessBody,
                statusCode: report.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        app.MapGet("/metrics", async (HttpContext context, OublietteMetrics metrics) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        });
        app.MapMcp("/mcp").RequireAuthorization().RequireRateLimiting(RateLimitPolicy);
        app.MapGateway();
    }
}
