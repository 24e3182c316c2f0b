using System.CommandLine;
using Oubliette.Configuration;
using Oubliette.Containers;
using Oubliette.Containers.Docker;

namespace Oubliette.Cli;

/// <summary><c>oubliette image build [--type base|dev]</c>: builds the agent images locally; a no-op when up to date.</summary>
public sealed class ImageBuildCommand
{
    private readonly CliContext _context;
    private readonly Option<string?> _type = new("--type") { Description = "base or dev (default: both)." };

    public ImageBuildCommand(CliContext context)
    {
        _context = context;
        Command = new Command("build", "Build the agent images from Debian packages and the pinned OpenCode binary (no registry).");
        Command.Options.Add(_type);
        Command.SetAction(RunAsync);
    }

    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var home = _context.ResolveHome(parseResult);
        var config = File.Exists(home.ConfigFile) ? ConfigParser.Load(home.ConfigFile) : ConfigParser.Parse("{}", "(defaults)");
        var types = parseResult.GetValue(_type) is { } type ? [type] : ImageRecipe.BuildableTypes;
        using var runtime = new DockerContainerRuntime(Environment.GetEnvironmentVariable("DOCKER_HOST"));
        var builder = new AgentImageBuilder(runtime, ImageRecipe.DefaultDirectory,
            Environment.GetEnvironmentVariable("OUBLIETTE_DEBIAN_MIRROR") ?? AgentImageBuilder.DefaultMirror);
        var progress = new SynchronousProgress(line => _context.Out.WriteLine($"  {line}"));
        foreach (var imageType in types)
        {
            ImageRecipe.Load(ImageRecipe.DefaultDirectory, imageType);
            var tag = config.Containers.TryGetValue(imageType, out var configured) ? configured : $"oubliette-agent:{imageType}";
            await _context.Out.WriteLineAsync($"image {imageType} -> {tag}");
            await builder.BuildAsync(imageType, tag, progress, cancellationToken);
        }

        return CliApp.Success;
    }
}
