using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Oubliette.Configuration;
using Oubliette.Errors;

namespace Oubliette.Projects;

/// <summary>
/// Fills a fresh workspace folder: a clone of a checked <see cref="CloneSource"/> or a <c>git init</c>. git runs as the
/// agent user (uid/gid 1000, no groups, no new privileges) with a throw-away HOME, no system or user config, only the
/// source's protocol allowed, no redirects, the host pinned to the addresses the policy checked, and a GitHub
/// credential only for the hosts it is configured for (as a header scoped to the URL's origin, passed through the
/// environment, never the command line, metadata or the container).
/// </summary>
public sealed class GitWorkspaces(OublietteConfig config)
{
    private const int MaxErrorBytes = 4096;
    private static readonly TimeSpan CloneTimeout = TimeSpan.FromMinutes(10);

    public string? ValidateCredential(string? name)
    {
        var chosen = name ?? config.Credentials.GithubDefault;
        if (chosen is not null && !config.Credentials.Github.ContainsKey(chosen))
        {
            throw new InvalidArgumentException(
                $"github_credential '{chosen}' is not configured (configured: {(config.Credentials.Github.Count == 0 ? "none" : string.Join(", ", config.Credentials.Github.Keys))})");
        }

        return chosen;
    }

    /// <summary>Whether the named credential may be sent to the source's host (its <c>hosts</c> list).</summary>
    public bool CredentialApplies(string? credential, CloneSource source) =>
        credential is not null
        && source.Protocol is "https" or "http"
        && source.Host is not null
        && config.Credentials.Github.TryGetValue(credential, out var entry)
        && GitConfig.Matches(entry.Hosts, source.Host, source.Port);

    /// <summary>Clones <paramref name="source"/> into <paramref name="destination"/> (an empty folder owned by uid 1000).</summary>
    public async Task CloneAsync(CloneSource source, string? credential, string destination, CancellationToken cancellationToken)
    {
        var settings = new List<(string Key, string Value)>();
        string? secret = null;
        if (CredentialApplies(credential, source))
        {
            var token = config.Credentials.Github[credential!].Token; // CredentialApplies checked the entry exists
            var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"x-access-token:{token}"));
            settings.Add(($"http.{source.Origin}.extraHeader", $"Authorization: Basic {basic}"));
            secret = token;
        }

        var arguments = new List<string>
        {
            "-c", "http.followRedirects=false",
            "-c", $"protocol.file.allow={(source.IsLocal ? "always" : "never")}",
            "-c", "submodule.recurse=false",
        };
        if (!source.IsLocal && !source.HostIsAddress && source.Protocol is "https" or "http")
        {
            arguments.AddRange(["-c", $"http.curloptResolve={source.Host}:{source.Port}:{string.Join(',', source.Addresses.Select(Bracketed))}"]);
        }

        var url = source.Url;
        var environment = new Dictionary<string, string> { ["GIT_ALLOW_PROTOCOL"] = source.Protocol };
        if (source.Protocol == "ssh")
        {
            // Pinned like http: ssh dials the checked address and checks the host key under the name.
            url = new UriBuilder(source.Url) { Host = Bracketed(source.Addresses[0]) }.Uri.ToString();
            environment["GIT_SSH_COMMAND"] = $"ssh -o BatchMode=yes -o HostKeyAlias={source.Host}";
        }

        arguments.AddRange(["clone", "--quiet", "--no-recurse-submodules", "--template="]);
        if (source.IsLocal)
        {
            arguments.Add("--no-hardlinks");
        }

        try
        {
            await RunAsync(arguments, url, destination, settings, environment, source.IsLocal, secret, cancellationToken);
        }
        catch (ExternalFailureException exception)
        {
            throw new InvalidArgumentException($"could not clone '{CloneSourcePolicy.Redact(source.Url)}': {exception.Message}");
        }
    }

    /// <summary><c>git init</c> of <paramref name="destination"/> (an empty folder owned by uid 1000), as the agent user.</summary>
    public Task InitAsync(string destination, CancellationToken cancellationToken) =>
        RunAsync(["init", "--quiet", "--initial-branch=main", "--template="], null, destination, [], new Dictionary<string, string>(), false, null, cancellationToken);

    /// <summary>
    /// Runs git as uid 1000. The destination sits under the root-only data folder, which uid 1000 cannot traverse, so
    /// a private mount namespace binds it onto a mount point in a fresh root-owned 0755 folder under the temp folder;
    /// the bind disappears with the namespace when git exits.
    /// </summary>
    private static async Task RunAsync(
        List<string> arguments,
        string? url,
        string destination,
        List<(string Key, string Value)> settings,
        Dictionary<string, string> environment,
        bool trustLocalRepositories,
        string? secret,
        CancellationToken cancellationToken)
    {
        var sandbox = Directory.CreateTempSubdirectory("oubliette-git-").FullName;
        try
        {
            WorkspaceFolders.CreateTraversable(sandbox);
            var home = Path.Combine(sandbox, "home");
            WorkspaceFolders.CreateForAgent(home, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var mountPoint = Path.Combine(sandbox, "repo");
            WorkspaceFolders.CreateTraversable(mountPoint);
            var globalConfig = Path.Combine(sandbox, "gitconfig");
            // An admin's local repository belongs to another user: without this git refuses it as "dubious ownership".
            await File.WriteAllTextAsync(globalConfig, trustLocalRepositories ? "[safe]\n\tdirectory = *\n" : "", cancellationToken);
            File.SetUnixFileMode(globalConfig, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

            var startInfo = new ProcessStartInfo("unshare")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = sandbox,
            };
            startInfo.Environment.Clear();
            startInfo.Environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
            startInfo.Environment["HOME"] = home;
            startInfo.Environment["LANG"] = "C";
            startInfo.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
            startInfo.Environment["GIT_CONFIG_GLOBAL"] = globalConfig;
            startInfo.Environment["GIT_TERMINAL_PROMPT"] = "0";
            foreach (var (key, value) in environment)
            {
                startInfo.Environment[key] = value;
            }

            startInfo.Environment["GIT_CONFIG_COUNT"] = settings.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            for (var index = 0; index < settings.Count; index++)
            {
                startInfo.Environment[$"GIT_CONFIG_KEY_{index}"] = settings[index].Key;
                startInfo.Environment[$"GIT_CONFIG_VALUE_{index}"] = settings[index].Value;
            }

            foreach (var argument in (string[])[
                "--mount", "--propagation", "private", "--",
                "sh", "-c", "mount --bind -- \"$1\" \"$2\" && shift 2 && exec \"$@\"", "git-sandbox", destination, mountPoint,
                "setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "--no-new-privs", "--inh-caps=-all", "--",
                "git"])
            {
                startInfo.ArgumentList.Add(argument);
            }

            foreach (var argument in arguments)
            {
                startInfo.ArgumentList.Add(argument);
            }

            if (url is not null)
            {
                startInfo.ArgumentList.Add("--");
                startInfo.ArgumentList.Add(url);
            }

            startInfo.ArgumentList.Add(mountPoint);
            await RunProcessAsync(startInfo, secret, cancellationToken);
        }
        finally
        {
            await WorkspaceFolders.DeleteAsync(sandbox, CancellationToken.None);
        }
    }

    private static async Task RunProcessAsync(ProcessStartInfo startInfo, string? secret, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CloneTimeout);
        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException("could not start git");
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = ReadBoundedAsync(process.StandardError);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            throw new ExternalFailureException($"git took longer than {CloneTimeout.TotalMinutes:0} minutes and was stopped");
        }

        await stdout;
        var error = (await stderr).Trim();
        if (process.ExitCode != 0)
        {
            if (secret is not null)
            {
                error = error.Replace(secret, "***", StringComparison.Ordinal)
                    .Replace(Convert.ToBase64String(Encoding.UTF8.GetBytes($"x-access-token:{secret}")), "***", StringComparison.Ordinal);
            }

            throw new ExternalFailureException(error.Length == 0 ? $"git exited with code {process.ExitCode}" : error);
        }
    }

    /// <summary>All of stderr up to <see cref="MaxErrorBytes"/> characters (the rest is read and dropped, with a note).</summary>
    private static async Task<string> ReadBoundedAsync(StreamReader reader)
    {
        var kept = new StringBuilder();
        var dropped = 0L;
        var buffer = new char[1024];
        int read;
        while ((read = await reader.ReadAsync(buffer, CancellationToken.None)) > 0)
        {
            var room = Math.Max(0, MaxErrorBytes - kept.Length);
            kept.Append(buffer, 0, Math.Min(room, read));
            dropped += Math.Max(0, read - room);
        }

        return dropped > 0 ? $"{kept}… ({dropped} more characters cut)" : kept.ToString();
    }

    private static string Bracketed(System.Net.IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
}
