using System.CommandLine;

namespace Oubliette.Cli;

/// <summary><c>oubliette token list</c>: a table of tokens; never secrets.</summary>
public sealed class TokenListCommand
{
    private readonly CliContext _context;

    public TokenListCommand(CliContext context)
    {
        _context = context;
        Command = new Command("list", "List tokens: id, name, scope, created, last used, expires.");
        Command.SetAction(RunAsync);
    }

    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var tokens = await _context.OpenTokensAsync(_context.RequireHome(parseResult), cancellationToken);
        var rows = (await tokens.ListAsync(cancellationToken))
            .Select(token => new[]
            {
                token.Id,
                token.Name,
                token.Scope.ToString(),
                token.CreatedAt.ToString("u"),
                token.LastUsedAt?.ToString("u") ?? "never",
                token.ExpiresAt?.ToString("u") ?? "never",
            })
            .Prepend(["ID", "NAME", "SCOPE", "CREATED", "LAST USED", "EXPIRES"])
            .ToList();
        var widths = Enumerable.Range(0, 6).Select(column => rows.Max(row => row[column].Length)).ToArray();
        foreach (var row in rows)
        {
            await _context.Out.WriteLineAsync(string.Join("  ", row.Select((cell, column) => cell.PadRight(widths[column]))).TrimEnd());
        }

        return CliApp.Success;
    }
}
