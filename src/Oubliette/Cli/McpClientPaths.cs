namespace Oubliette.Cli;

/// <summary>The folders client config paths start from: the working directory, the user's home, and $XDG_CONFIG_HOME (default ~/.config).</summary>
internal sealed record McpClientPaths(string CurrentDirectory, string UserHome, string ConfigHome)
{
    public static McpClientPaths From(CliContext context) => new(
        context.CurrentDirectory,
        context.UserHome,
        context.Environment("XDG_CONFIG_HOME") is { Length: > 0 } configHome && Path.IsPathFullyQualified(configHome)
            ? configHome
            : Path.Combine(context.UserHome, ".config"));
}
