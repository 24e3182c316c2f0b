using System.CommandLine;
using System.Net;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Operations;

namespace Oubliette.Cli;

/// <summary>
/// <c>oubliette mcp --setup &lt;client&gt; [--scope S] [--config PATH] [--name N] [--user]</c>: mints a token for one MCP
/// client and merges the server entry <c>oubliette</c> into that client's config file (SPEC §1). Re-running for the
/// same file replaces that file's token: the token its entry held is revoked once the file holds the new secret, and
/// files of other folders (which share the default token name) keep theirs. The server checks tokens against auth.db
/// on every request, so a running server accepts the new token at once. A file inside a git work tree is added to the
/// repository's <c>.git/info/exclude</c> (never to a tracked file), because it holds a bearer secret.
/// </summary>
public sealed class McpSetupCommand
{
    /// <summary>The server's name in every client's config.</summary>
    public const string ServerName = "oubliette";

    private readonly CliContext _context;
    private readonly Option<string> _setup = new("--setup") { Description = "The client to configure.", Required = true };
    private readonly Option<string> _scope = new("--scope") { Description = "Token scope: admin | admin:ro | project:<uuid> | project:<uuid>:ro (default admin).", DefaultValueFactory = _ => "admin" };
    private readonly Option<string?> _config = new("--config") { Description = "The client config file to write (default: the client's own, see --user)." };
    private readonly Option<string?> _name = new("--name") { Description = "Token name (default mcp-<client>); re-running for the same file revokes the token that file held, whatever its name." };
    private readonly Option<bool> _user = new("--user") { Description = "claude-code: ~/.claude.json instead of ./.mcp.json; opencode: ~/.config/opencode/opencode.json instead of ./opencode.json; vscode: the user profile's mcp.json instead of ./.vscode/mcp.json." };

    public McpSetupCommand(CliContext context)
    {
        _context = context;
        _setup.AcceptOnlyFromAmong([.. McpClientProfile.Names]);
        Command = new Command("mcp", "Connect an MCP client: write its config with a dedicated token.");
        Command.Options.Add(_setup);
        Command.Options.Add(_scope);
        Command.Options.Add(_config);
        Command.Options.Add(_name);
        Command.Options.Add(_user);
        Command.SetAction(RunAsync);
    }

    public Command Command { get; }

    /// <summary>
    /// Refuses a config file that is, or through links resolves to, a place under the home's <c>data/projects/</c>: there
    /// workspaces and agent folders are bind-mounted into containers, so an agent could read the secret (as uid 1000, the
    /// operator's own uid on many machines) or swap the file. Running the setup in a workspace, or in a checkout holding
    /// an agent's <c>.mcp.json</c> link to its workspace (WriteAsync follows links to dotfiles), would hand it the token.
    /// </summary>
    private static void RefuseProjectFolders(string path, OublietteHome home)
    {
        var projects = RealPath(home.ProjectsDirectory);
        var target = RealPath(path);
        if (target == projects || target.StartsWith(projects + "/", StringComparison.Ordinal))
        {
            throw new ConflictException(
                $"the MCP config file {path} {(target == path ? "lies" : $"resolves to {target}, which lies")} under {home.ProjectsDirectory}, where project "
                + "containers can read and replace files: a token written there would be the agent's. Run 'oubliette mcp --setup' from another folder or pass --config (nothing was changed)");
        }
    }

    /// <summary>The path with every link resolved (the part that does not exist yet kept as given).</summary>
    private static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var existing = full;
        var rest = "";
        while (!Path.Exists(existing) && new FileInfo(existing).LinkTarget is null && Path.GetDirectoryName(existing) is { } parent)
        {
            rest = rest.Length == 0 ? Path.GetFileName(existing) : Path.Combine(Path.GetFileName(existing), rest);
            existing = parent;
        }

        var resolved = new FileInfo(existing).LinkTarget is null ? ResolveParents(existing) : ResolveLink(existing);
        return rest.Length == 0 ? resolved : Path.Combine(resolved, rest);
    }

    private static string ResolveLink(string path) =>
        RealPath(new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? throw new ConflictException($"{path} is a link that cannot be resolved (nothing was changed)"));

    /// <summary>An existing path with each of its folders' links resolved, one at a time from the root.</summary>
    private static string ResolveParents(string path)
    {
        var resolved = "/";
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(resolved, part);
            resolved = new FileInfo(next).LinkTarget is null ? next : ResolveLink(next);
        }

        return resolved;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var profile = McpClientProfile.Find(parseResult.GetValue(_setup))
            ?? throw new InvalidArgumentException($"--setup must be one of {string.Join(", ", McpClientProfile.Names)}");
        var home = _context.RequireHome(parseResult);
        var url = new Uri(ServerUrl(home), "/mcp");
        var tokenName = parseResult.GetValue(_name) ?? $"mcp-{profile.Name}";
        var paths = McpClientPaths.From(_context);
        var path = parseResult.GetValue(_config) is { Length: > 0 } given
            ? Path.GetFullPath(given, _context.CurrentDirectory)
            : parseResult.GetValue(_user) ? profile.UserPath(paths) : profile.ProjectPath(paths);

        // Everything that can refuse runs before the token exists: a bad file or scope changes nothing.
        RefuseProjectFolders(path, home);
        var root = McpClientConfigFile.Load(path, profile);
        var tokens = await _context.OpenTokensAsync(home, cancellationToken);
        var held = McpClientConfigFile.HeldSecret(root, profile, ServerName);
        var created = await tokens.CreateAsync(tokenName, parseResult.GetValue(_scope), expires: null, actorTokenId: "cli", cancellationToken);
        McpClientConfigFile.SetServer(root, profile, ServerName, profile.Entry(url, created.Secret));
        try
        {
            await McpClientConfigFile.WriteAsync(path, root, cancellationToken);
        }
        catch
        {
            // The file still holds the old token: the new one must not outlive the failed setup.
            await tokens.RevokeAsync(created.Token.Id, "cli", CancellationToken.None);
            throw;
        }

        var replaced = "";
        if (held is not null)
        {
            try
            {
                var old = await tokens.RevokeAsync(held, "cli", cancellationToken);
                replaced = $"\n  revoked: {old.Id} (the token this file held, name {old.Name})";
            }
            catch (NotFoundException)
            {
                // The file held a token that is already gone: nothing to revoke.
            }
        }

        var excluded = GitExclude.Add(path) is { } exclude ? $"\n  git:     added to {exclude}, so git does not commit the secret" : "";
        await _context.Out.WriteLineAsync($"""
            Configured {profile.Name}: server '{ServerName}' in {path} (mode 0600)
              url:     {url}
              token:   {created.Token.Id} (name {tokenName}, scope {created.Token.Scope}; the secret is only in that file){replaced}{excluded}
            The server checks tokens on every request: no restart is needed.
            Next: {profile.NextStep(path)}
            """);
        return CliApp.Success;
    }

    /// <summary>
    /// The running server's own address when it runs (the real port, also for port 0), else <c>server.address</c> from
    /// the config, with a wildcard host replaced by loopback (a client connects to an address, not to "any").
    /// </summary>
    private static Uri ServerUrl(OublietteHome home)
    {
        var runFiles = new RunFiles(home);
        if (runFiles.LivePid() is not null && runFiles.ReadAddress() is { } running)
        {
            return running;
        }

        var server = ConfigParser.Load(home.ConfigFile).Server;
        if (server.Port == 0)
        {
            throw new ConflictException($"server.address in {home.ConfigFile} has port 0 (a free port chosen at start) and no server is running: start it ('oubliette --daemon') and run this again");
        }

        var host = server.Host;
        if (IPAddress.TryParse(host, out var ip))
        {
            host = ip.Equals(IPAddress.Any) ? "127.0.0.1"
                : ip.Equals(IPAddress.IPv6Any) ? "[::1]"
                : ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip}]"
                : host;
        }

        return new Uri($"http://{host}:{server.Port}");
    }
}
