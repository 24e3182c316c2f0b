using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Oubliette.Containers.Docker;

/// <summary>
/// <see cref="IContainerRuntime"/> on Docker.DotNet, against <c>DOCKER_HOST</c> or <c>/var/run/docker.sock</c>.
/// API 1.41 (Docker 20.10) is asked for: every engine since then still speaks it.
/// </summary>
public sealed class DockerContainerRuntime : IContainerRuntime, IDisposable
{
    private const int OutputCapBytes = 1024 * 1024;
    private static readonly System.Version ApiVersion = new(1, 41);

    /// <summary>The bound of one engine call on the request path (inspect, create, start, exec create…): a hung engine fails it.</summary>
    internal static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long a cancelled exec's process group gets to be killed.</summary>
    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(5);
    private readonly DockerClient _client;

    public DockerContainerRuntime(string? dockerHost)
    {
        Engine = string.IsNullOrWhiteSpace(dockerHost) ? "unix:///var/run/docker.sock" : dockerHost;
        // Streams (exec output, logs, builds) are bounded by their callers; every other call by CallTimeout.
        _client = new DockerClientConfiguration(new Uri(Engine), defaultTimeout: CallTimeout).CreateClient(ApiVersion);
    }

    /// <summary>The engine address, as errors name it.</summary>
    public string Engine { get; }

    public void Dispose() => _client.Dispose();

    public Task PingAsync(CancellationToken cancellationToken) => CallAsync("answer a ping", token => _client.System.PingAsync(token), cancellationToken);

    public Task<ContainerInfo?> InspectAsync(string nameOrId, CancellationToken cancellationToken) =>
        CallAsync($"inspect container {nameOrId}", async token =>
        {
            try
            {
                return ToInfo(await _client.Containers.InspectContainerAsync(nameOrId, token));
            }
            catch (DockerContainerNotFoundException)
            {
                return (ContainerInfo?)null;
            }
        }, cancellationToken);

    public Task<string> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken) =>
        CallAsync($"create container {spec.Name}", token => CreateUnboundedAsync(spec, token), cancellationToken);

    private async Task<string> CreateUnboundedAsync(ContainerSpec spec, CancellationToken cancellationToken)
    {
        var response = await _client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = spec.Name,
            Image = spec.Image,
            User = spec.User,
            Labels = spec.Labels.ToDictionary(),
            Env = [.. spec.Environment],
            Entrypoint = spec.Command.Count > 0 ? [.. spec.Command] : null,
            // An empty Cmd, so that the image's CMD is not appended to the entrypoint given above.
            Cmd = spec.Command.Count > 0 ? [] : null,
            HostConfig = new HostConfig
            {
                Init = spec.Init,
                LogConfig = spec.LogMaxBytes > 0
                    ? new LogConfig
                    {
                        Type = "json-file",
                        Config = new Dictionary<string, string>
                        {
                            ["max-size"] = spec.LogMaxBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
                            ["max-file"] = spec.LogMaxFiles.ToString(System.Globalization.CultureInfo.InvariantCulture),
                            // A full log pipe must never stall the processes writing to it: lines are dropped instead.
                            ["mode"] = "non-blocking",
                        },
                    }
                    : null,
                Binds = [.. spec.Mounts.Select(mount => $"{mount.HostPath}:{mount.ContainerPath}:{(mount.ReadOnly ? "ro" : "rw")}")],
                Memory = spec.MemoryBytes,
                MemorySwap = spec.MemoryBytes,
                NanoCPUs = spec.NanoCpus,
                PidsLimit = spec.PidsLimit,
                NetworkMode = spec.Network,
                CapDrop = ["ALL"],
                SecurityOpt = ["no-new-privileges"],
                Privileged = false,
                RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
            },
        }, cancellationToken);
        return response.ID;
    }

    public Task StartAsync(string nameOrId, CancellationToken cancellationToken) =>
        CallAsync($"start container {nameOrId}", token => _client.Containers.StartContainerAsync(nameOrId, new ContainerStartParameters(), token), cancellationToken);

    public Task StopAsync(string nameOrId, TimeSpan grace, CancellationToken cancellationToken) =>
        CallAsync($"stop container {nameOrId}",
            token => _client.Containers.StopContainerAsync(nameOrId, new ContainerStopParameters { WaitBeforeKillSeconds = (uint)Math.Ceiling(grace.TotalSeconds) }, token),
            cancellationToken, CallTimeout + grace);

    public Task RemoveAsync(string nameOrId, CancellationToken cancellationToken) =>
        CallAsync($"remove container {nameOrId}", async token =>
        {
            try
            {
                await _client.Containers.RemoveContainerAsync(nameOrId, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, token);
            }
            catch (DockerContainerNotFoundException)
            {
                // Already gone: removal is idempotent.
            }
        }, cancellationToken);

    public async Task<IReadOnlyList<ContainerInfo>> ListByLabelAsync(string label, string value, CancellationToken cancellationToken)
    {
        var listed = await CallAsync("list containers", token => _client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{label}={value}"] = true } },
        }, token), cancellationToken);
        var result = new List<ContainerInfo>(listed.Count);
        foreach (var container in listed)
        {
            if (await InspectAsync(container.ID, cancellationToken) is { } info)
            {
                result.Add(info);
            }
        }

        return result;
    }

    public async Task<ExecResult> ExecAsync(string nameOrId, ExecRequest request, CancellationToken cancellationToken)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(request.Timeout.TotalSeconds));
        // The kill happens inside the container, so a timed-out command never outlives its exec. `timeout` leads a process
        // group of its own; its pid is kept in a file so that a cancelled exec can kill the whole group (an exec's process
        // goes on after its client leaves).
        var pidFile = $"/tmp/.exec-{Guid.NewGuid():N}.pid";
        var created = await CallAsync($"create an exec in container {nameOrId}", token => _client.Exec.ExecCreateContainerAsync(nameOrId, new ContainerExecCreateParameters
        {
            Cmd =
            [
                "sh", "-c", "timeout -s KILL \"$1\" sh -c \"$2\" & echo $! >\"$0\"; wait $!; code=$?; rm -f \"$0\"; exit $code",
                pidFile, seconds.ToString(System.Globalization.CultureInfo.InvariantCulture), request.Command,
            ],
            User = request.User,
            WorkingDir = request.WorkingDirectory,
            AttachStdout = true,
            AttachStderr = true,
        }, token), cancellationToken);

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(request.Timeout + TimeSpan.FromSeconds(15));
        (string Stdout, string Stderr, long TruncatedBytes) output;
        try
        {
            using var stream = await _client.Exec.StartAndAttachContainerExecAsync(created.ID, tty: false, deadline.Token);
            // The attached stream does not always notice a cancelled read: closing it ends the read at once.
            using var endRead = deadline.Token.Register(stream.Dispose);
            output = await ReadCappedAsync(stream, deadline.Token);
        }
        catch (Exception exception) when (cancellationToken.IsCancellationRequested)
        {
            // The caller left; the exec's process would go on until its own timeout. Killed once the stream is closed
            // (not from the cancellation callback: the client must not start a call while it tears the stream down).
            await KillExecAsync(nameOrId, request.User, pidFile);
            throw exception as OperationCanceledException ?? new OperationCanceledException(cancellationToken);
        }

        var inspected = await CallAsync("inspect an exec", token => _client.Exec.InspectContainerExecAsync(created.ID, token), cancellationToken);
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        var timedOut = inspected.ExitCode == 137 && elapsed >= request.Timeout * 0.95;
        if (inspected.ExitCode is 126 or 127 && output.Stdout.Contains("OCI runtime", StringComparison.Ordinal)
            && output.Stdout.Contains("chdir to cwd", StringComparison.Ordinal))
        {
            // The runtime could not enter the directory, so nothing ran: the caller's mistake, not the command's exit.
            var why = output.Stdout.Contains("not a directory", StringComparison.Ordinal) ? "is not a directory"
                : output.Stdout.Contains("permission denied", StringComparison.Ordinal) ? $"may not be entered by user {request.User}"
                : "does not exist";
            throw new Errors.InvalidArgumentException($"working_dir '{request.WorkingDirectory}' {why} in the container; the command was not run");
        }

        return new ExecResult(output.Stdout, output.Stderr, inspected.ExitCode, timedOut, output.TruncatedBytes);
    }

    public Task ExecDetachedAsync(string nameOrId, IReadOnlyList<string> command, string user, IReadOnlyList<string> environment, CancellationToken cancellationToken) =>
        CallAsync($"start a process in container {nameOrId}", async token =>
        {
            var created = await _client.Exec.ExecCreateContainerAsync(nameOrId, new ContainerExecCreateParameters
            {
                Cmd = [.. command],
                User = user,
                Env = [.. environment],
                Detach = true,
            }, token);
            await _client.Exec.StartContainerExecAsync(created.ID, token);
        }, cancellationToken);

    /// <summary>Kills the process group of a cancelled exec (best effort, bounded: the caller is already leaving).</summary>
    private async Task KillExecAsync(string nameOrId, string user, string pidFile)
    {
        using var bound = new CancellationTokenSource(KillTimeout);
        try
        {
            var kill = await _client.Exec.ExecCreateContainerAsync(nameOrId, new ContainerExecCreateParameters
            {
                Cmd = ["sh", "-c", "pid=$(cat \"$0\" 2>/dev/null) && kill -KILL -\"$pid\" 2>/dev/null; rm -f \"$0\"", pidFile],
                User = user,
                WorkingDir = "/",
                Detach = true,
            }, bound.Token);
            await _client.Exec.StartContainerExecAsync(kill.ID, bound.Token);
        }
        catch (Exception exception) when (exception is DockerApiException or HttpRequestException or IOException or OperationCanceledException)
        {
            // The container is gone or the engine does not answer: the command's own timeout still ends it.
        }
    }

    /// <summary>
    /// One engine call with a bound, its failures in words naming the engine and what was asked: the engine missing,
    /// silent, or refusing (a paused container, say).
    /// </summary>
    private async Task<T> CallAsync<T>(string what, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var bound = timeout ?? CallTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(bound);
        try
        {
            return await call(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new Errors.ExternalFailureException($"the container engine at {Engine} did not answer within {bound.TotalSeconds:0} s (trying to {what})");
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException or System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new Errors.ExternalFailureException($"could not reach the container engine at {Engine} (trying to {what}): {Reason(exception)}");
        }
        catch (DockerApiException exception)
        {
            throw new Errors.ExternalFailureException($"the container engine at {Engine} refused to {what}: {ApiMessage(exception)}");
        }
    }

    private Task CallAsync(string what, Func<CancellationToken, Task> call, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        CallAsync(what, async token =>
        {
            await call(token);
            return true;
        }, cancellationToken, timeout);

    private static string Reason(Exception exception)
    {
        for (var inner = exception; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Net.Sockets.SocketException socket)
            {
                return socket.SocketErrorCode switch
                {
                    System.Net.Sockets.SocketError.AddressNotAvailable or System.Net.Sockets.SocketError.AddressFamilyNotSupported => "no engine socket there",
                    System.Net.Sockets.SocketError.ConnectionRefused => "connection refused (is the engine running?)",
                    System.Net.Sockets.SocketError.AccessDenied => "permission denied",
                    _ => socket.Message,
                };
            }
        }

        return exception.Message;
    }

    /// <summary>The engine's own message ({"message": "..."}), not the client library's wrapper text.</summary>
    private static string ApiMessage(DockerApiException exception)
    {
        try
        {
            using var body = System.Text.Json.JsonDocument.Parse(exception.ResponseBody ?? "");
            if (body.RootElement.TryGetProperty("message", out var message) && message.GetString() is { Length: > 0 } text)
            {
                return text;
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Not JSON: fall back to the status.
        }

        return $"HTTP {(int)exception.StatusCode}";
    }

    public async Task<ContainerLogs> LogsAsync(string nameOrId, int? tail, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        using var stream = await CallAsync($"read the logs of container {nameOrId}", token => _client.Containers.GetContainerLogsAsync(nameOrId, tty: false, new ContainerLogsParameters
        {
            ShowStdout = true,
            ShowStderr = true,
            Tail = tail?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "all",
            Since = since?.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
        }, token), cancellationToken);
        var output = await ReadCappedAsync(stream, cancellationToken);
        return new ContainerLogs(output.Stdout, output.Stderr, output.TruncatedBytes);
    }

    public Task<IReadOnlyDictionary<string, string>?> InspectImageLabelsAsync(string image, CancellationToken cancellationToken) =>
        CallAsync($"inspect image {image}", async token =>
        {
            try
            {
                var inspected = await _client.Images.InspectImageAsync(image, token);
                return (IReadOnlyDictionary<string, string>?)inspected.Config?.Labels ?? new Dictionary<string, string>();
            }
            catch (DockerImageNotFoundException)
            {
                return null;
            }
        }, cancellationToken);

    public Task<string?> ImageIdAsync(string image, CancellationToken cancellationToken) =>
        CallAsync($"inspect image {image}", async token =>
        {
            try
            {
                return (string?)(await _client.Images.InspectImageAsync(image, token)).ID;
            }
            catch (DockerImageNotFoundException)
            {
                return null;
            }
        }, cancellationToken);

    public Task ImportImageAsync(Stream rootfsTar, string repository, string tag, CancellationToken cancellationToken) =>
        _client.Images.CreateImageAsync(
            new ImagesCreateParameters { FromSrc = "-", Repo = repository, Tag = tag },
            rootfsTar,
            new AuthConfig(),
            new Progress<JSONMessage>(),
            cancellationToken);

    public async Task BuildImageAsync(Stream context, string tag, IReadOnlyDictionary<string, string> labels, IReadOnlyDictionary<string, string> buildArguments,
        IProgress<string> progress, CancellationToken cancellationToken)
    {
        string? failure = null;
        await _client.Images.BuildImageFromDockerfileAsync(
            new ImageBuildParameters
            {
                Tags = [tag],
                Labels = labels.ToDictionary(),
                BuildArgs = buildArguments.ToDictionary(),
                NetworkMode = "none",
                Remove = true,
                ForceRemove = true,
            },
            context,
            [],
            new Dictionary<string, string>(),
            new Progress<JSONMessage>(message =>
            {
                if (message.Error is { } error)
                {
                    failure = error.Message;
                }
                else if (!string.IsNullOrWhiteSpace(message.Stream))
                {
                    progress.Report(message.Stream.TrimEnd());
                }
            }),
            cancellationToken);
        if (failure is not null)
        {
            throw new Errors.ExternalFailureException($"image build of {tag} failed: {failure}");
        }
    }

    private static async Task<(string Stdout, string Stderr, long TruncatedBytes)> ReadCappedAsync(MultiplexedStream stream, CancellationToken cancellationToken)
    {
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        long truncated = 0;
        var buffer = new byte[81920];
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken);
            if (read.EOF)
            {
                break;
            }

            var target = read.Target == MultiplexedStream.TargetStream.StandardError ? stderr : stdout;
            var room = (int)Math.Max(0, OutputCapBytes - target.Length);
            await target.WriteAsync(buffer.AsMemory(0, Math.Min(room, read.Count)), cancellationToken);
            truncated += Math.Max(0, read.Count - room);
        }

        return (Encoding.UTF8.GetString(stdout.GetBuffer(), 0, (int)stdout.Length), Encoding.UTF8.GetString(stderr.GetBuffer(), 0, (int)stderr.Length), truncated);
    }

    private static ContainerInfo ToInfo(ContainerInspectResponse inspected)
    {
        var host = inspected.HostConfig ?? new HostConfig();
        return new ContainerInfo(
            inspected.ID,
            inspected.Name.TrimStart('/'),
            inspected.Config?.Image ?? "",
            inspected.State?.Status ?? "unknown",
            inspected.State?.Running ?? false,
            DateTimeOffset.TryParse(inspected.State?.StartedAt, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var startedAt) && startedAt.Year > 1
                ? startedAt
                : null,
            (IReadOnlyDictionary<string, string>?)inspected.Config?.Labels ?? new Dictionary<string, string>(),
            inspected.Config?.User ?? "",
            [.. (inspected.Mounts ?? []).Select(mount => new BindMount(mount.Source, mount.Destination, !mount.RW))],
            host.Memory,
            host.NanoCPUs,
            host.PidsLimit ?? 0,
            host.NetworkMode ?? "",
            [.. host.CapDrop ?? []],
            [.. host.SecurityOpt ?? []],
            host.Privileged)
        {
            ImageId = inspected.Image ?? "",
        };
    }
}
