using System.CommandLine;

namespace Oubliette.Cli;

/// <summary><c>oubliette token revoke &lt;token-id&gt;</c>: by public id, or by the secret itself.</summary>
public sealed class TokenRevokeCommand
{
    private readonly CliContext _context;
    private readonly Argument<string> _tokenId = new("token-id") { Description = "The tok_... id from 'token list' (the oub_... secret is accepted too)." };

    public TokenRevokeCommand(CliContext context)
    {
        _context = context;
        Command = new Command("revoke", "Revoke a token; it stops working at once.");
        Command.Arguments.Add(_tokenId);
        Command.SetAction(RunAsync);
    }

    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var tokens = await _context.OpenTokensAsync(_context.RequireHome(parseResult), cancellationToken);
        var revoked = await tokens.RevokeAsync(parseResult.GetValue(_tokenId), "cli", cancellationToken);
        await _context.Out.WriteLineAsync($"Revoked token {revoked.Id} ({revoked.Name}, {revoked.Scope}).");
        return CliApp.Success;
    }
}
