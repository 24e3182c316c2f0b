using System.CommandLine;
using Oubliette.Configuration;
using Oubliette.Containers;
using Oubliette.Containers.Docker;
using Oubliette.Errors;

namespace Oubliette.Cli;

/// <summary>
/// <c>oubliette image build [--type T]</c>: builds the agent images locally; a no-op when up to date. <c>base</c> and
/// <c>dev</c> come from <c>images/</c>; a type of <c>containers</c> with a <c>recipe</c> from that recipe (after base
/// and dev, which its <c>FROM</c> usually names). A type without a recipe is an image the operator brings.
/// </summary>
public sealed class ImageBuildCommand
{
    private readonly CliContext _context;
    private readonly Option<string?> _type = new("--type") { Description = "A container type: base, dev, or a type of 'containers' with a recipe (default: all of them)." };

    public ImageBuildCommand(CliContext context)
    {
        _context = context;
        Command = new Command("build", "Build the agent images from Debian packages and the pinned OpenCode binary, and the custom types from their recipes (no registry).");
        Command.Options.Add(_type);
        Command.SetAction(RunAsync);
    }

    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var home = _context.ResolveHome(parseResult);
        var config = File.Exists(home.ConfigFile) ? ConfigParser.Load(home.ConfigFile) : ConfigParser.Parse("{}", "(defaults)");
        var buildable = ImageRecipe.BuildableTypes.Concat(config.ContainerRecipes.Keys.Where(type => !ImageRecipe.BuildableTypes.Contains(type)).Order(StringComparer.Ordinal)).ToList();
        List<string> types;
        if (parseResult.GetValue(_type) is { } requested)
        {
            if (!buildable.Contains(requested, StringComparer.Ordinal) && !config.ContainerRecipes.ContainsKey(requested))
            {
                throw new InvalidArgumentException(config.Containers.ContainsKey(requested)
                    ? $"--type '{requested}' has no recipe: give it one in the config, \"containers\": {{\"{requested}\": {{\"image\": \"{config.Containers[requested]}\", \"recipe\": \"<folder with a Dockerfile, or a Dockerfile>\"}}}} (buildable types: {string.Join(", ", buildable)})"
                    : $"--type '{requested}' is not a container type of the config (buildable types: {string.Join(", ", buildable)})");
            }

            types = [requested];
        }
        else
        {
            types = buildable;
        }

        using var runtime = new DockerContainerRuntime(Environment.GetEnvironmentVariable("DOCKER_HOST"));
        var builder = new AgentImageBuilder(runtime, ImageRecipe.DefaultDirectory,
            Environment.GetEnvironmentVariable("OUBLIETTE_DEBIAN_MIRROR") ?? AgentImageBuilder.DefaultMirror);
        var progress = new SynchronousProgress(line => _context.Out.WriteLine($"  {line}"));
        foreach (var imageType in types)
        {
            var tag = config.Containers.TryGetValue(imageType, out var configured) ? configured : $"oubliette-agent:{imageType}";
            await _context.Out.WriteLineAsync($"image {imageType} -> {tag}");
            if (config.ContainerRecipes.TryGetValue(imageType, out var recipePath))
            {
                await builder.BuildCustomAsync(CustomImageRecipe.Load(imageType, recipePath), tag, progress, cancellationToken);
            }
            else
            {
                ImageRecipe.Load(ImageRecipe.DefaultDirectory, imageType);
                await builder.BuildAsync(imageType, tag, progress, cancellationToken);
            }
        }

        return CliApp.Success;
    }
}
