using System.CommandLine;

namespace Oubliette.Cli;

/// <summary><c>oubliette token create --name N --scope S [--expires 30d]</c>: prints the secret once.</summary>
public sealed class TokenCreateCommand
{
    private readonly CliContext _context;
    private readonly Option<string> _name = new("--name") { Description = "A name for the token.", Required = true };
    private readonly Option<string> _scope = new("--scope") { Description = "admin | admin:ro | project:<uuid> | project:<uuid>:ro", Required = true };
    private readonly Option<string?> _expires = new("--expires") { Description = "Lifetime such as 30d, 12h, 2w, or an ISO-8601 time; default: never." };

    public TokenCreateCommand(CliContext context)
    {
        _context = context;
        Command = new Command("create", "Create a token and print its secret once.");
        Command.Options.Add(_name);
        Command.Options.Add(_scope);
        Command.Options.Add(_expires);
        Command.SetAction(RunAsync);
    }

    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var tokens = await _context.OpenTokensAsync(_context.RequireHome(parseResult), cancellationToken);
        var created = await tokens.CreateAsync(parseResult.GetValue(_name), parseResult.GetValue(_scope), parseResult.GetValue(_expires), "cli", cancellationToken);
        var expires = created.Token.ExpiresAt is { } at ? at.ToString("u") : "never";
        await _context.Out.WriteLineAsync($"""
            Created token {created.Token.Id} (name {created.Token.Name}, scope {created.Token.Scope}, expires {expires}).
            Secret (shown once, keep it safe):
              {created.Secret}
            """);
        return CliApp.Success;
    }
}
