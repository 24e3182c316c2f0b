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
    private readonly DockerClient _client;

    public DockerContainerRuntime(string? dockerHost)
    {
        var endpoint = new Uri(string.IsNullOrWhiteSpace(dockerHost) ? "unix:///var/run/docker.sock" : dockerHost);
        _client = new DockerClientConfiguration(endpoint, defaultTimeout: TimeSpan.FromMinutes(10)).CreateClient(ApiVersion);
    }

    public void Dispose() => _client.Dispose();

    public Task PingAsync(CancellationToken cancellationToken) => _client.System.PingAsync(cancellationToken);

    public async Task<ContainerInfo?> InspectAsync(string nameOrId, CancellationToken cancellationToken)
    {
        try
        {
            return ToInfo(await _client.Containers.InspectContainerAsync(nameOrId, cancellationToken));
        }
        catch (DockerContainerNotFoundException)
        {
            return null;
        }
    }

    public async Task<string> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken)
    {
        var response = await _client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = spec.Name,
            Image = spec.Image,
            User = spec.User,
            Labels = spec.Labels.ToDictionary(),
            Env = [.. spec.Environment],
            HostConfig = new HostConfig
            {
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
        _client.Containers.StartContainerAsync(nameOrId, new ContainerStartParameters(), cancellationToken);

    public Task StopAsync(string nameOrId, TimeSpan grace, CancellationToken cancellationToken) =>
        _client.Containers.StopContainerAsync(nameOrId, new ContainerStopParameters { WaitBeforeKillSeconds = (uint)Math.Ceiling(grace.TotalSeconds) }, cancellationToken);

    public async Task RemoveAsync(string nameOrId, CancellationToken cancellationToken)
    {
        try
        {
            await _client.Containers.RemoveContainerAsync(nameOrId, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, cancellationToken);
        }
        catch (DockerContainerNotFoundException)
        {
            // Already gone: removal is idempotent.
        }
    }

    public async Task<IReadOnlyList<ContainerInfo>> ListByLabelAsync(string label, string value, CancellationToken cancellationToken)
    {
        var listed = await _client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{label}={value}"] = true } },
        }, cancellationToken);
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
        // The kill happens inside the container, so a timed-out command never outlives its exec.
        var created = await _client.Exec.ExecCreateContainerAsync(nameOrId, new ContainerExecCreateParameters
        {
            Cmd = ["timeout", "-s", "KILL", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "sh", "-c", request.Command],
            User = request.User,
            WorkingDir = request.WorkingDirectory,
            AttachStdout = true,
            AttachStderr = true,
        }, cancellationToken);

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(request.Timeout + TimeSpan.FromSeconds(15));
        using var stream = await _client.Exec.StartAndAttachContainerExecAsync(created.ID, tty: false, deadline.Token);
        var output = await ReadCappedAsync(stream, deadline.Token);
        var inspected = await _client.Exec.InspectContainerExecAsync(created.ID, cancellationToken);
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        var timedOut = inspected.ExitCode == 137 && elapsed >= request.Timeout * 0.95;
        return new ExecResult(output.Stdout, output.Stderr, inspected.ExitCode, timedOut, output.TruncatedBytes);
    }

    public async Task ExecDetachedAsync(string nameOrId, IReadOnlyList<string> command, string user, IReadOnlyList<string> environment, CancellationToken cancellationToken)
    {
        var created = await _client.Exec.ExecCreateContainerAsync(nameOrId, new ContainerExecCreateParameters
        {
            Cmd = [.. command],
            User = user,
            Env = [.. environment],
            Detach = true,
        }, cancellationToken);
        await _client.Exec.StartContainerExecAsync(created.ID, cancellationToken);
    }

    public async Task<ContainerLogs> LogsAsync(string nameOrId, int? tail, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        using var stream = await _client.Containers.GetContainerLogsAsync(nameOrId, tty: false, new ContainerLogsParameters
        {
            ShowStdout = true,
            ShowStderr = true,
            Tail = tail?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "all",
            Since = since?.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
        }, cancellationToken);
        var output = await ReadCappedAsync(stream, cancellationToken);
        return new ContainerLogs(output.Stdout, output.Stderr, output.TruncatedBytes);
    }

    public async Task<IReadOnlyDictionary<string, string>?> InspectImageLabelsAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            var inspected = await _client.Images.InspectImageAsync(image, cancellationToken);
            return (IReadOnlyDictionary<string, string>?)inspected.Config?.Labels ?? new Dictionary<string, string>();
        }
        catch (DockerImageNotFoundException)
        {
            return null;
        }
    }

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
            host.Privileged);
    }
}
