using System.Text;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Operations;

namespace Oubliette.Projects;

/// <summary>
/// Fills a workspace folder on the host: a clone of a remote (with a GitHub credential passed through the environment,
/// never the command line, metadata or the container), a fresh <c>git init</c>, or nothing.
/// </summary>
public sealed class GitWorkspaces(OublietteConfig config)
{
    private static readonly string[] AllowedSchemes = ["https", "http", "ssh", "file"];
    private static readonly TimeSpan CloneTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Checks a remote URL; refuses credentials embedded in it.</summary>
    public static string ValidateRemote(string field, string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || !AllowedSchemes.Contains(uri.Scheme, StringComparer.Ordinal))
        {
            throw new InvalidArgumentException($"{field} '{url}' is not a git URL (allowed schemes: {string.Join(", ", AllowedSchemes)})");
        }

        if (uri.UserInfo.Length > 0 && uri.Scheme != "ssh")
        {
            throw new InvalidArgumentException($"{field} must not carry credentials; name a credential of credentials.github.credentials with github_credential instead");
        }

        return url;
    }

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

    public async Task CloneAsync(string url, string? credential, string destination, CancellationToken cancellationToken)
    {
        var environment = new Dictionary<string, string> { ["GIT_TERMINAL_PROMPT"] = "0" };
        if (credential is not null && url.StartsWith("https://", StringComparison.Ordinal))
        {
            var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"x-access-token:{config.Credentials.Github[credential].Token}"));
            environment["GIT_CONFIG_COUNT"] = "1";
            environment["GIT_CONFIG_KEY_0"] = "http.extraHeader";
            environment["GIT_CONFIG_VALUE_0"] = $"Authorization: Basic {basic}";
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CloneTimeout);
        try
        {
            await ProcessRunner.RunAsync("git", ["clone", "--quiet", "--", url, destination], new Progress<string>(), timeout.Token, environment: environment);
        }
        catch (ExternalFailureException exception)
        {
            throw new InvalidArgumentException($"could not clone '{url}': {exception.Message.Split(Environment.NewLine).Last()}");
        }
    }

    public static Task InitAsync(string destination, CancellationToken cancellationToken) =>
        ProcessRunner.RunAsync("git", ["init", "--quiet", "--initial-branch=main", destination], new Progress<string>(), cancellationToken);
}
