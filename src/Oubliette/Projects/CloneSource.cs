using System.Net;

namespace Oubliette.Projects;

/// <summary>
/// A clone source that passed <see cref="CloneSourcePolicy"/>: its protocol (<c>https</c>, <c>http</c>, <c>ssh</c> or
/// <c>file</c>), and for network sources the host, port and the addresses that were checked (the clone is pinned to them).
/// </summary>
public sealed record CloneSource(string Url, string Protocol, string? Host, int Port, bool ExplicitPort, IReadOnlyList<IPAddress> Addresses)
{
    public bool IsLocal => Protocol == "file";

    /// <summary>Whether the host was written as an IP address (nothing to resolve, nothing to pin).</summary>
    public bool HostIsAddress => Host is not null && IPAddress.TryParse(Host, out _);

    /// <summary>The URL's origin as git's <c>http.&lt;url&gt;.*</c> settings name it, for example <c>https://github.com/</c>.</summary>
    public string Origin
    {
        get
        {
            var host = Host is not null && Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;
            return ExplicitPort ? $"{Protocol}://{host}:{Port}/" : $"{Protocol}://{host}/";
        }
    }
}
