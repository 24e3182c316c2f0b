using System.Net;
using System.Net.Sockets;
using Oubliette.Auth;
using Oubliette.Configuration;
using Oubliette.Errors;

namespace Oubliette.Projects;

/// <summary>
/// Decides whether a clone source (<c>project create {remote_url}</c>, <c>workspace create {source}</c>) may be used
/// (SPEC §12): https to public hosts always; ssh only with <c>git.allow_ssh</c>; http and loopback, private,
/// link-local, CGNAT, unique-local, multicast or unspecified targets only for hosts in <c>git.allowed_hosts</c>;
/// <c>file://</c> and host paths only for admin tokens with <c>git.allow_local_sources</c>. Host names are resolved
/// here and every address checked; the clone is then pinned to those addresses.
/// </summary>
public sealed class CloneSourcePolicy
{
    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(15);
    private readonly GitConfig _git;
    private readonly Func<string, CancellationToken, Task<IPAddress[]>> _resolve;

    public CloneSourcePolicy(OublietteConfig config)
        : this(config, Dns.GetHostAddressesAsync)
    {
    }

    internal CloneSourcePolicy(OublietteConfig config, Func<string, CancellationToken, Task<IPAddress[]>> resolve)
    {
        _git = config.Git;
        _resolve = resolve;
    }

    /// <summary>The checked source, or an <see cref="InvalidArgumentException"/> naming the field, the value and what is allowed.</summary>
    public async Task<CloneSource> CheckAsync(string field, string value, Caller? caller, CancellationToken cancellationToken)
    {
        var shown = Redact(value);
        if (string.IsNullOrWhiteSpace(value) || value.Length > 2048 || value.Any(char.IsControl))
        {
            throw Refused(field, shown, "is not a git URL", caller);
        }

        if (value.StartsWith('/') || value.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            return CheckLocal(field, value, shown, caller);
        }

        // Backslashes and blanks are read differently by System.Uri and curl (a host check could pass for one host
        // while git dials another), so they are refused, and git is given the URL as System.Uri normalised it.
        if (value.Contains('\\', StringComparison.Ordinal) || value.Any(char.IsWhiteSpace)
            || !Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http" or "ssh"))
        {
            throw Refused(field, shown, "is not a git URL", caller);
        }

        if (uri.UserInfo.Length > 0 && (uri.Scheme != "ssh" || uri.UserInfo.Contains(':', StringComparison.Ordinal)))
        {
            throw new InvalidArgumentException(
                $"{field} must not carry credentials; name a credential of credentials.github.credentials with github_credential instead");
        }

        var host = HostOf(uri);
        if (host is null)
        {
            throw Refused(field, shown, "has no valid host name", caller);
        }

        var port = uri.Port > 0 ? uri.Port : 22; // System.Uri knows no default port for ssh
        var listed = GitConfig.Matches(_git.AllowedHosts, host, port);
        if (uri.Scheme == "http" && !listed)
        {
            throw Refused(field, shown, $"uses http://, which is allowed only for hosts listed in git.allowed_hosts ('{host}:{port}' is not)", caller);
        }

        if (uri.Scheme == "ssh" && !_git.AllowSsh)
        {
            throw Refused(field, shown, "uses ssh://, which the operator has not allowed (git.allow_ssh is false)", caller);
        }

        var addresses = await ResolveAsync(field, shown, host, caller, cancellationToken);
        if (!listed)
        {
            foreach (var address in addresses)
            {
                if (Classify(address) is { } kind)
                {
                    throw Refused(field, shown,
                        $"reaches {address} ({kind}); loopback, private, link-local, CGNAT, unique-local, multicast and unspecified targets are allowed only for hosts listed in git.allowed_hosts",
                        caller);
                }
            }
        }

        return new CloneSource(uri.AbsoluteUri, uri.Scheme, host, port, !uri.IsDefaultPort, addresses);
    }

    /// <summary>Why <paramref name="address"/> is not a public internet address, or null when it is.</summary>
    public static string? Classify(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return Classify(address.MapToIPv4());
        }

        var bytes = address.GetAddressBytes();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return (bytes[0], bytes[1], bytes[2]) switch
            {
                (0, _, _) => "unspecified",
                (127, _, _) => "loopback",
                (10, _, _) => "private",
                (172, >= 16 and <= 31, _) => "private",
                (192, 168, _) => "private",
                (100, >= 64 and <= 127, _) => "CGNAT",
                (169, 254, _) => "link-local",
                (>= 224 and <= 239, _, _) => "multicast",
                (>= 240, _, _) => "reserved",
                (192, 0, 0) or (192, 0, 2) or (198, 51, 100) or (203, 0, 113) => "reserved",
                (198, 18 or 19, _) => "reserved",
                _ => null,
            };
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return "not an internet address";
        }

        if (address.Equals(IPAddress.IPv6None) || address.Equals(IPAddress.IPv6Any))
        {
            return "unspecified";
        }

        if (address.Equals(IPAddress.IPv6Loopback))
        {
            return "loopback";
        }

        return bytes switch
        {
            [0xff, ..] => "multicast",
            [0xfe, >= 0x80 and <= 0xbf, ..] => "link-local",
            [0xfe, >= 0xc0, ..] => "private",
            [>= 0xfc and <= 0xfd, ..] => "unique-local",
            [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, ..] => Classify(new IPAddress(bytes[12..])), // NAT64
            [0x00, 0x64, 0xff, 0x9b, ..] => "private",
            [0x20, 0x02, ..] => Classify(new IPAddress(bytes[2..6])), // 6to4
            [0x20, 0x01, 0x0d, 0xb8, ..] => "reserved",
            [0x20, 0x01, 0x00, 0x00, ..] => "reserved", // Teredo: the IPv4 end is hidden
            [0x00, ..] or [0x01, 0x00, ..] => "reserved",
            _ => null,
        };
    }

    private CloneSource CheckLocal(string field, string value, string shown, Caller? caller)
    {
        if (!_git.AllowLocalSources || caller?.Scope.Kind != ScopeKind.Admin)
        {
            throw Refused(field, shown,
                "is a local source; file:// URLs and host paths are allowed only for admin tokens when the operator sets git.allow_local_sources: true", caller);
        }

        if (value.StartsWith('/'))
        {
            return new CloneSource(value, "file", null, 0, false, []);
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme != "file" || !(uri.Host.Length == 0 || uri.Host == "localhost"))
        {
            throw Refused(field, shown, "is not a file:// URL of a path on this host (for example file:///srv/repo)", caller);
        }

        return new CloneSource(value, "file", null, 0, false, []);
    }

    private async Task<IReadOnlyList<IPAddress>> ResolveAsync(string field, string shown, string host, Caller? caller, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host, out var literal))
        {
            return [literal];
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ResolveTimeout);
        IPAddress[] addresses;
        try
        {
            addresses = await _resolve(host, timeout.Token);
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw Refused(field, shown, $"names host '{host}', which could not be resolved", caller);
        }

        return addresses.Length > 0 ? addresses : throw Refused(field, shown, $"names host '{host}', which could not be resolved", caller);
    }

    /// <summary>The URL's host in lower case (IPv6 without brackets), or null when it is not a DNS name or an IP address.</summary>
    private static string? HostOf(Uri uri)
    {
        if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6)
        {
            return IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) ? address.ToString() : null;
        }

        var host = uri.IdnHost.ToLowerInvariant();
        return uri.HostNameType == UriHostNameType.Dns && GitConfig.TryParseHostEntry(host, out var parsed, out var port) && port is null ? parsed : null;
    }

    private InvalidArgumentException Refused(string field, string shown, string reason, Caller? caller) =>
        new($"{field} '{shown}' {reason} (allowed: {Allowed(caller)})");

    private string Allowed(Caller? caller)
    {
        var allowed = new List<string> { "https:// URLs of public hosts" };
        if (_git.AllowSsh)
        {
            allowed.Add("ssh:// URLs of public hosts");
        }

        if (_git.AllowedHosts.Count > 0)
        {
            allowed.Add("http:// and https:// URLs of the hosts in git.allowed_hosts");
        }

        if (_git.AllowLocalSources && caller?.Scope.Kind == ScopeKind.Admin)
        {
            allowed.Add("file:// URLs and absolute host paths");
        }

        return string.Join("; ", allowed);
    }

    /// <summary>The value with any user:password part masked, so a refusal never echoes a secret.</summary>
    internal static string Redact(string value)
    {
        var scheme = value.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0)
        {
            return value;
        }

        var start = scheme + 3;
        var end = value.IndexOfAny(['/', '?', '#'], start);
        var authority = end < 0 ? value[start..] : value[start..end];
        var at = authority.LastIndexOf('@');
        return at < 0 ? value : value[..start] + "***@" + value[(start + at + 1)..];
    }
}
