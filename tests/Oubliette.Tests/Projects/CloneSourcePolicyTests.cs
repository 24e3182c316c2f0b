using System.Net;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Projects;

namespace Oubliette.Tests.Projects;

public sealed class CloneSourcePolicyTests
{
    private static readonly Caller Admin = new("t1", "admin", TokenScope.Admin);
    private static readonly Caller ProjectCaller = new("t2", "project", TokenScope.Project(Guid.NewGuid()));

    private static readonly Dictionary<string, string[]> Dns = new(StringComparer.Ordinal)
    {
        ["github.com"] = ["140.82.121.4"],
        ["internal.example"] = ["10.1.2.3"],
        ["mixed.example"] = ["140.82.121.4", "192.168.1.1"],
        ["v6.example"] = ["fd00::1"],
        ["localhost"] = ["127.0.0.1", "::1"],
    };

    private static CloneSourcePolicy Policy(string git = "{}", string? credentials = null)
    {
        var config = ConfigParser.Parse($$"""{ "git": {{git}} {{(credentials is null ? "" : $", \"credentials\": {credentials}")}} }""", "test");
        return new CloneSourcePolicy(config, (host, _) => Dns.TryGetValue(host, out var addresses)
            ? Task.FromResult(addresses.Select(IPAddress.Parse).ToArray())
            : Task.FromException<IPAddress[]>(new System.Net.Sockets.SocketException(11001)));
    }

    private static async Task<string> RefusedAsync(CloneSourcePolicy policy, string value, Caller? caller = null)
    {
        var exception = await Assert.ThrowsAsync<InvalidArgumentException>(() => policy.CheckAsync("source", value, caller ?? ProjectCaller, CancellationToken.None));
        return exception.Message;
    }

    [Fact]
    public async Task Https_to_a_public_host_is_allowed_and_keeps_the_checked_address()
    {
        var source = await Policy().CheckAsync("source", "https://github.com/o/r.git", ProjectCaller, CancellationToken.None);

        Assert.Equal(("https", "github.com", 443, "https://github.com/"), (source.Protocol, source.Host, source.Port, source.Origin));
        Assert.Equal([IPAddress.Parse("140.82.121.4")], source.Addresses);
    }

    [Theory]
    [InlineData("https://127.0.0.1/x", "127.0.0.1 (loopback)")]
    [InlineData("https://127.9.9.9:8443/x", "127.9.9.9 (loopback)")]
    [InlineData("https://[::1]/x", "::1 (loopback)")]
    [InlineData("https://[::ffff:127.0.0.1]/x", "(loopback)")]
    [InlineData("https://localhost/x", "127.0.0.1 (loopback)")]
    [InlineData("https://10.0.0.1/x", "10.0.0.1 (private)")]
    [InlineData("https://172.20.1.1/x", "172.20.1.1 (private)")]
    [InlineData("https://192.168.0.10/x", "192.168.0.10 (private)")]
    [InlineData("https://internal.example/x", "10.1.2.3 (private)")]
    [InlineData("https://mixed.example/x", "192.168.1.1 (private)")]
    [InlineData("https://169.254.169.254/latest", "169.254.169.254 (link-local)")]
    [InlineData("https://[fe80::1]/x", "fe80::1 (link-local)")]
    [InlineData("https://100.64.0.1/x", "100.64.0.1 (CGNAT)")]
    [InlineData("https://v6.example/x", "fd00::1 (unique-local)")]
    [InlineData("https://224.0.0.1/x", "224.0.0.1 (multicast)")]
    [InlineData("https://[ff02::1]/x", "ff02::1 (multicast)")]
    [InlineData("https://0.0.0.0/x", "0.0.0.0 (unspecified)")]
    [InlineData("https://[::]/x", ":: (unspecified)")]
    public async Task Non_public_targets_are_refused_naming_the_address(string url, string reached)
    {
        var message = await RefusedAsync(Policy(), url);

        Assert.Contains($"source '{url}' reaches", message, StringComparison.Ordinal);
        Assert.Contains(reached, message, StringComparison.Ordinal);
        Assert.Contains("allowed only for hosts listed in git.allowed_hosts", message, StringComparison.Ordinal);
        Assert.Contains("(allowed: https:// URLs of public hosts)", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Allowed_hosts_admit_http_and_loopback_with_or_without_a_port()
    {
        var byHost = Policy("""{ "allowed_hosts": ["127.0.0.1"] }""");
        var byPort = Policy("""{ "allowed_hosts": ["localhost:3000", "[::1]:3001"] }""");

        Assert.Equal("http", (await byHost.CheckAsync("source", "http://127.0.0.1:9/x", ProjectCaller, CancellationToken.None)).Protocol);
        Assert.Equal(3000, (await byPort.CheckAsync("source", "http://localhost:3000/x", ProjectCaller, CancellationToken.None)).Port);
        Assert.Equal("::1", (await byPort.CheckAsync("source", "http://[::1]:3001/x", ProjectCaller, CancellationToken.None)).Host);
        Assert.Contains("'localhost:3001' is not", await RefusedAsync(byPort, "http://localhost:3001/x"), StringComparison.Ordinal);
        Assert.Contains("reaches 127.0.0.1 (loopback)", await RefusedAsync(byPort, "https://localhost/x"), StringComparison.Ordinal);
        Assert.Contains("http:// and https:// URLs of the hosts in git.allowed_hosts", await RefusedAsync(byPort, "http://localhost:3001/x"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http_to_a_host_not_listed_is_refused_even_when_public()
    {
        var message = await RefusedAsync(Policy(), "http://github.com/o/r.git");

        Assert.Equal("source 'http://github.com/o/r.git' uses http://, which is allowed only for hosts listed in git.allowed_hosts ('github.com:80' is not) (allowed: https:// URLs of public hosts)", message);
    }

    [Fact]
    public async Task Ssh_needs_the_operator_switch()
    {
        Assert.Contains("uses ssh://, which the operator has not allowed (git.allow_ssh is false)", await RefusedAsync(Policy(), "ssh://git@github.com/o/r.git"), StringComparison.Ordinal);

        var source = await Policy("""{ "allow_ssh": true }""").CheckAsync("source", "ssh://git@github.com/o/r.git", ProjectCaller, CancellationToken.None);
        Assert.Equal(("ssh", 22), (source.Protocol, source.Port));
        Assert.Contains("(loopback)", await RefusedAsync(Policy("""{ "allow_ssh": true }"""), "ssh://git@127.0.0.1/o/r.git"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("file:///srv/other-repo")]
    [InlineData("/srv/other-repo")]
    [InlineData("file://localhost/srv/other-repo")]
    public async Task Local_sources_need_an_admin_token_and_the_operator_switch(string value)
    {
        var off = Policy();
        var on = Policy("""{ "allow_local_sources": true }""");
        const string reason = "is a local source; file:// URLs and host paths are allowed only for admin tokens when the operator sets git.allow_local_sources: true";

        Assert.Contains($"source '{value}' {reason}", await RefusedAsync(off, value, Admin), StringComparison.Ordinal);
        Assert.Contains($"source '{value}' {reason}", await RefusedAsync(on, value, ProjectCaller), StringComparison.Ordinal);
        Assert.Contains(reason, await RefusedAsync(on, value, new Caller("t3", "ro", TokenScope.AdminReadOnly)), StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidArgumentException>(() => on.CheckAsync("source", value, null, CancellationToken.None));
        Assert.True((await on.CheckAsync("source", value, Admin, CancellationToken.None)).IsLocal);
    }

    [Theory]
    [InlineData("https://user:pw@github.com/o/r.git")]
    [InlineData("https://ghp_token@github.com/o/r.git")]
    [InlineData("ssh://git:pw@github.com/o/r.git")]
    public async Task Credentials_in_the_url_are_refused_without_echoing_them(string url)
    {
        var message = await RefusedAsync(Policy("""{ "allow_ssh": true }"""), url);

        Assert.Contains("source must not carry credentials", message, StringComparison.Ordinal);
        Assert.DoesNotContain("pw", message, StringComparison.Ordinal);
        Assert.DoesNotContain("ghp_token", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftp://example.com/x.git", "is not a git URL")]
    [InlineData("git://github.com/o/r.git", "is not a git URL")]
    [InlineData("ext::sh -c touch% /tmp/pwned", "is not a git URL")]
    [InlineData("git@github.com:o/r.git", "is not a git URL")]
    [InlineData("relative/path", "is not a git URL")]
    [InlineData("https://github.com /x", "is not a git URL")]
    [InlineData("https://nowhere.invalid/x", "names host 'nowhere.invalid', which could not be resolved")]
    public async Task Other_sources_are_refused_clearly(string value, string reason) =>
        Assert.Contains($"source '{value}' {reason} (allowed: ", await RefusedAsync(Policy(), value), StringComparison.Ordinal);

    [Fact]
    public async Task A_backslash_that_curl_and_System_Uri_read_differently_is_refused() =>
        Assert.Contains("'https://***@127.0.0.1/x' is not a git URL", await RefusedAsync(Policy(), "https://github.com\\@127.0.0.1/x"), StringComparison.Ordinal);

    [Fact]
    public async Task Git_gets_the_url_as_System_Uri_normalised_it() =>
        Assert.Equal("https://github.com/o/r.git", (await Policy().CheckAsync("source", "HTTPS://GitHub.com:443/o/r.git", ProjectCaller, CancellationToken.None)).Url);

    [Fact]
    public void Redaction_masks_user_info_only() =>
        Assert.Equal("ftp://***@host/p@x", CloneSourcePolicy.Redact("ftp://u:secret@host/p@x"));

    [Theory]
    [InlineData("https://github.com/o/r.git", true)]
    [InlineData("https://GitHub.com/o/r.git", true)]
    [InlineData("https://github.com:8443/o/r.git", true)]
    [InlineData("https://gitlab.com/o/r.git", false)]
    [InlineData("https://evil.example/o/r.git", false)]
    public async Task The_default_credential_goes_only_to_github_com(string url, bool sent)
    {
        var config = ConfigParser.Parse("""{ "credentials": { "github": { "credentials": { "w": { "token": "ghp_x" } }, "default": "w" } } }""", "t");
        var source = new CloneSource(url, "https", new Uri(url).Host.ToLowerInvariant(), new Uri(url).Port, !new Uri(url).IsDefaultPort, []);

        Assert.Equal(sent, new GitWorkspaces(config).CredentialApplies("w", source));
    }

    [Fact]
    public void A_credential_goes_only_to_its_configured_hosts_and_ports()
    {
        var config = ConfigParser.Parse("""
            { "credentials": { "github": { "credentials": { "ghe": { "token": "t", "hosts": ["git.corp.example", "127.0.0.1:3000"] } } } } }
            """, "t");
        var git = new GitWorkspaces(config);

        Assert.True(git.CredentialApplies("ghe", new CloneSource("https://git.corp.example/x", "https", "git.corp.example", 443, false, [])));
        Assert.True(git.CredentialApplies("ghe", new CloneSource("http://127.0.0.1:3000/x", "http", "127.0.0.1", 3000, true, [])));
        Assert.False(git.CredentialApplies("ghe", new CloneSource("http://127.0.0.1:3001/x", "http", "127.0.0.1", 3001, true, [])));
        Assert.False(git.CredentialApplies("ghe", new CloneSource("https://github.com/x", "https", "github.com", 443, false, [])));
        Assert.False(git.CredentialApplies("ghe", new CloneSource("ssh://git.corp.example/x", "ssh", "git.corp.example", 22, false, [])));
        Assert.False(git.CredentialApplies(null, new CloneSource("https://git.corp.example/x", "https", "git.corp.example", 443, false, [])));
        Assert.Equal("http://127.0.0.1:3000/", new CloneSource("http://127.0.0.1:3000/x", "http", "127.0.0.1", 3000, true, []).Origin);
    }
}
