using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Oubliette.Configuration;

/// <summary>
/// Where clones may come from (SPEC §12): https to public hosts always; <c>ssh://</c> when <see cref="AllowSsh"/>;
/// <c>http://</c> and loopback or private targets only for hosts (or host:port) in <see cref="AllowedHosts"/>;
/// <c>file://</c> and host paths only for admin tokens and only when <see cref="AllowLocalSources"/>.
/// </summary>
public sealed partial record GitConfig(bool AllowSsh, IReadOnlyList<string> AllowedHosts, bool AllowLocalSources)
{
    public static readonly GitConfig Default = new(false, [], false);

    /// <summary>What a host entry may look like, for error messages.</summary>
    public const string HostEntryFormat = "a host name or IP address, optionally with :port (for example github.com, git.example.com:8443, 127.0.0.1:3000, [::1]:3000)";

    /// <summary>
    /// Reads a host entry of <c>git.allowed_hosts</c> or a credential's <c>hosts</c>: <c>host</c>, <c>host:port</c>,
    /// <c>[v6]</c> or <c>[v6]:port</c>. The host comes back in lower case (IP addresses in their canonical form).
    /// </summary>
    public static bool TryParseHostEntry(string entry, out string host, out int? port)
    {
        host = "";
        port = null;
        var text = entry.Trim();
        string hostPart;
        string? portPart = null;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return false;
            }

            hostPart = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (!rest.StartsWith(':'))
                {
                    return false;
                }

                portPart = rest[1..];
            }

            if (!IPAddress.TryParse(hostPart, out var v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                return false;
            }

            hostPart = v6.ToString();
        }
        else
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0)
            {
                if (text.IndexOf(':', colon + 1) >= 0)
                {
                    return false; // a bare IPv6 address must be written in brackets
                }

                portPart = text[(colon + 1)..];
                text = text[..colon];
            }

            if (IPAddress.TryParse(text, out var v4) && v4.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && text.Count(c => c == '.') == 3)
            {
                hostPart = v4.ToString();
            }
            else if (HostName().IsMatch(text))
            {
                hostPart = text.ToLowerInvariant();
            }
            else
            {
                return false;
            }
        }

        if (portPart is not null)
        {
            if (!int.TryParse(portPart, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535)
            {
                return false;
            }

            port = number;
        }

        host = hostPart;
        return true;
    }

    /// <summary>Whether <paramref name="host"/> (lower case, as <see cref="TryParseHostEntry"/> gives it) on <paramref name="port"/> matches one of the entries.</summary>
    public static bool Matches(IEnumerable<string> entries, string host, int port) =>
        entries.Any(entry => TryParseHostEntry(entry, out var entryHost, out var entryPort)
            && string.Equals(entryHost, host, StringComparison.Ordinal)
            && (entryPort is null || entryPort == port));

    [GeneratedRegex(@"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")]
    private static partial Regex HostName();
}
