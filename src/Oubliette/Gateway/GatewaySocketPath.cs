using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Oubliette.Configuration;
using Oubliette.Operations;

namespace Oubliette.Gateway;

/// <summary>
/// <c>server.gateway_socket</c> checked against the file system at start-up, every problem listed: a path of at most
/// 107 bytes (a unix socket address), in an existing real folder owned by the server's user that no one else may write
/// to (so that nobody can swap the socket, and removing a stale one is safe). The only thing ever removed is a socket
/// left by an earlier run; the only folder ever created or chmod-ed is the default one, which the server owns.
/// </summary>
public static class GatewaySocketPath
{
    /// <summary>sun_path holds 108 bytes, the last one the terminating zero.</summary>
    public const int MaxBytes = 107;

    private const string Key = "server.gateway_socket";
    private const UnixFileMode DefaultFolderMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>The socket's absolute path: the configured one (relative to the Oubliette home), else data/run/gateway/gateway.sock.</summary>
    public static string Resolve(OublietteHome home, ServerConfig server) =>
        server.GatewaySocket is { } configured ? Path.GetFullPath(configured, home.Root) : home.DefaultGatewaySocket;

    /// <summary>Every problem with the configured (or default) socket path; changes nothing.</summary>
    public static IReadOnlyList<ConfigError> Check(OublietteHome home, ServerConfig server)
    {
        var errors = new List<ConfigError>();
        var configured = server.GatewaySocket;
        if (configured is not null && SyntaxProblem(configured, home) is { } syntax)
        {
            errors.Add(new ConfigError(Key, syntax));
            return errors;
        }

        var path = Resolve(home, server);
        var shown = configured is null || Path.IsPathRooted(configured) ? $"'{path}'" : $"'{configured}' (resolved to '{path}')";
        var bytes = Encoding.UTF8.GetByteCount(path);
        if (bytes > MaxBytes)
        {
            errors.Add(new ConfigError(Key, $"{shown} is {bytes} bytes long; a unix socket path holds at most {MaxBytes} bytes: choose a shorter path"));
        }

        var folder = Path.GetDirectoryName(path) ?? "/";
        switch (FileStatus.Of(folder))
        {
            case null when configured is not null:
                errors.Add(new ConfigError(Key, $"the folder '{folder}' does not exist: create it (owned by the server's user, mode 0711 or 0755) or choose another path"));
                break;
            case null:
                break;
            case { IsLink: true }:
                errors.Add(new ConfigError(Key, $"the folder '{folder}' is a symbolic link: name the real folder it points to"));
                break;
            case { IsDirectory: false } other:
                errors.Add(new ConfigError(Key, $"'{folder}' is {Kind(other)}, not a folder"));
                break;
            case { } directory:
                errors.AddRange(FolderProblems(folder, directory, configured is not null));
                break;
        }

        if (FileStatus.Of(path) is { } existing)
        {
            if (!existing.IsSocket)
            {
                errors.Add(new ConfigError(Key,
                    $"{shown} exists and is {Kind(existing)}, not a socket left by an earlier run; the server never removes it: choose another path or remove it yourself"));
            }
            else if (IsListening(path))
            {
                errors.Add(new ConfigError(Key, $"{shown} is a socket that another process is listening on (a running oubliette?): stop it or choose another path"));
            }
        }

        return errors;
    }

    /// <summary>
    /// Before the listener binds: creates the default folder (0711, so the agent user can reach the socket), checks
    /// everything (a <see cref="ConfigException"/> listing every problem), removes a stale socket, returns the path.
    /// </summary>
    public static string Prepare(OublietteHome home, ServerConfig server)
    {
        if (server.GatewaySocket is null)
        {
            var folder = Path.GetDirectoryName(home.DefaultGatewaySocket) ?? home.RunDirectory;
            if (FileStatus.Of(folder) is null)
            {
                Directory.CreateDirectory(folder, DefaultFolderMode);
            }

            // Ours (created above or by an earlier run): the umask may have narrowed it, an old version may have widened it.
            if (FileStatus.Of(folder) is { IsDirectory: true } created && created.Uid == FileStatus.EffectiveUserId)
            {
                File.SetUnixFileMode(folder, DefaultFolderMode);
            }
        }

        var errors = Check(home, server);
        if (errors.Count > 0)
        {
            throw new ConfigException(home.ConfigFile, errors);
        }

        var path = Resolve(home, server);
        if (FileStatus.Of(path) is { IsSocket: true })
        {
            // A stale socket of an earlier run, in a folder no one else can write to (checked above).
            File.Delete(path);
        }

        return path;
    }

    private static string? SyntaxProblem(string configured, OublietteHome home)
    {
        if (string.IsNullOrWhiteSpace(configured))
        {
            return "must not be empty: give an absolute path, or one relative to the Oubliette home (default data/run/gateway/gateway.sock)";
        }

        if (configured.Contains('\0', StringComparison.Ordinal))
        {
            return "must not contain a NUL character";
        }

        if (configured.StartsWith('~'))
        {
            return $"'{configured}': '~' is not expanded; give an absolute path, or one relative to the Oubliette home ({home.Root})";
        }

        return configured.EndsWith('/') ? $"'{configured}' names a folder; give the socket's own path (for example {configured}gateway.sock)" : null;
    }

    private static IEnumerable<ConfigError> FolderProblems(string folder, FileStatus directory, bool configured)
    {
        var mode = Convert.ToString(directory.Permissions, 8).PadLeft(4, '0');
        if (directory.Uid != FileStatus.EffectiveUserId)
        {
            yield return new ConfigError(Key, $"the folder '{folder}' is owned by uid {directory.Uid.ToString(CultureInfo.InvariantCulture)}, not by the server's user (uid {FileStatus.EffectiveUserId.ToString(CultureInfo.InvariantCulture)})");
        }

        if ((directory.Permissions & 0b000_010_010) != 0)
        {
            yield return new ConfigError(Key, $"the folder '{folder}' is group- or world-writable (mode {mode}): another user could replace the socket; use a folder of its own with mode 0711 or 0755");
        }

        // The agent user (uid 1000) must be able to pass through the folder, which is mounted into every container.
        if (configured && (directory.Permissions & 0b000_000_001) == 0 && !(directory.Gid == 1000 && (directory.Permissions & 0b000_001_000) != 0))
        {
            yield return new ConfigError(Key, $"the folder '{folder}' (mode {mode}) does not let the agents (uid 1000 in the containers) reach the socket: make it 0711 or 0755");
        }
    }

    private static bool IsListening(string path)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (Exception exception) when (exception is SocketException or ArgumentException)
        {
            return false;
        }
    }

    private static string Kind(FileStatus status) => status switch
    {
        { IsRegularFile: true } => "a regular file",
        { IsDirectory: true } => "a folder",
        { IsLink: true } => "a symbolic link",
        { IsSocket: true } => "a socket",
        _ => "a special file",
    };
}
