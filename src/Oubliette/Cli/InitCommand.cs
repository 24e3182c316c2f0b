using System.CommandLine;
using Oubliette.Configuration;
using Oubliette.Errors;
using Oubliette.Storage;

namespace Oubliette.Cli;

/// <summary>
/// <c>oubliette init [--force]</c>: the home layout, a commented config (0600) and the first admin token. A provider key
/// in the environment (<see cref="FirstRunModel"/>) becomes the config's provider credential and default model.
/// </summary>
public sealed class InitCommand
{
    private readonly CliContext _context;
    private readonly Option<bool> _force = new("--force") { Description = "Overwrite an existing config file." };

    public InitCommand(CliContext context)
    {
        _context = context;
        Command = new Command("init", "Create the home layout, a commented config/oubliette.jsonc and the first admin token.");
        Command.Options.Add(_force);
        Command.SetAction(RunAsync);
    }

    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var home = _context.ResolveHome(parseResult);
        var force = parseResult.GetValue(_force);
        if (File.Exists(home.ConfigFile) && !force)
        {
            throw new ConflictException($"{home.ConfigFile} already exists; pass --force to overwrite it");
        }

        // Read before anything is created: an unusable combination is refused with nothing written.
        var model = FirstRunModel.FromEnvironment(_context.Environment);
        const UnixFileMode ownerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(home.Root, ownerOnlyDirectory);
        Directory.CreateDirectory(home.ConfigDirectory, ownerOnlyDirectory);
        home.EnsureDataDirectories();
        await WriteConfigAsync(home.ConfigFile, ConfigTemplate.Render(model), cancellationToken);

        var tokens = await _context.OpenTokensAsync(home, cancellationToken);
        var admin = await tokens.CreateAsync("admin", "admin", expires: null, actorTokenId: "cli", cancellationToken);
        var modelLine = model is null
            ? $"no model configured: set {FirstRunModel.AnthropicKeyVariable}, {FirstRunModel.OpenAiKeyVariable} or {FirstRunModel.BaseUrlVariable} (+ {FirstRunModel.ModelVariable}) before init, or add credentials.providers.credentials, models.models and defaults.agent.model to the config"
            : model.Describe();
        await _context.Out.WriteLineAsync($"""
            Initialized Oubliette home at {home.Root}
              config: {home.ConfigFile}
              data:   {home.DataDirectory}
              model:  {modelLine}

            Admin token {admin.Token.Id} (shown once, keep it safe):
              {admin.Secret}
            """);
        return CliApp.Success;
    }

    // Written to a fresh 0600 file and renamed over the old one: never briefly readable, never half-written.
    private static Task WriteConfigAsync(string path, string text, CancellationToken cancellationToken) =>
        AtomicFile.WriteTextAsync(path, text, cancellationToken);
}
