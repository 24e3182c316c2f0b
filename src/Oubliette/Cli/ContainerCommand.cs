using System.CommandLine;
using Microsoft.Extensions.Logging.Abstractions;
using Oubliette.Configuration;
using Oubliette.Containers;
using Oubliette.Containers.Docker;
using Oubliette.Errors;
using Oubliette.Operations;
using Oubliette.Projects;
using Oubliette.Sessions;

namespace Oubliette.Cli;

/// <summary>
/// <c>oubliette container list</c> and <c>oubliette container refresh &lt;project-id&gt; [--force]</c>, straight against the
/// container engine and the home's files. <c>list</c> works whether the server runs or not (it only reads).
/// <c>refresh</c> needs the server stopped: a running server holds the agents of the containers it would replace and the
/// live state of their sessions, so there the MCP <c>container</c> tool's <c>refresh</c> action is the way, and this
/// verb says so instead of pulling a container from under it.
/// </summary>
public sealed class ContainerCommand
{
    private readonly CliContext _context;
    private readonly Argument<string> _projectId = new("project-id") { Description = "The project's UUID." };
    private readonly Option<bool> _force = new("--force") { Description = "Refresh although the project has active sessions (their agents end with the container)." };

    public ContainerCommand(CliContext context)
    {
        _context = context;
        Command = new Command("container", "Project containers: list them, move one onto the current image of its type.");
        var list = new Command("list", "List project containers: name, project, type, image, status, and whether the image is current.");
        list.SetAction(ListAsync);
        var refresh = new Command("refresh", "Move a project onto the current image of its container type (server stopped; while it runs use the MCP container tool's refresh action).");
        refresh.Arguments.Add(_projectId);
        refresh.Options.Add(_force);
        refresh.SetAction(RefreshAsync);
        Command.Subcommands.Add(list);
        Command.Subcommands.Add(refresh);
    }

    public Command Command { get; }

    private async Task<int> ListAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var home = _context.RequireHome(parseResult);
        var config = ConfigParser.Load(home.ConfigFile);
        using var runtime = new DockerContainerRuntime(Environment.GetEnvironmentVariable("DOCKER_HOST"));
        var paths = new ProjectPaths(home, config);
        var containers = Containers(runtime, paths, config, ContainerLabelSet.None);
        var store = new ProjectStore(paths);
        var rows = new List<string[]> { new[] { "NAME", "PROJECT", "TYPE", "IMAGE", "STATUS", "CURRENT" } };
        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var project in (await store.ListAsync(cancellationToken)).OrderBy(project => project.Name, StringComparer.Ordinal))
        {
            IReadOnlyList<ProjectContainerState> states;
            try
            {
                states = await containers.StatesAsync(project, cancellationToken);
            }
            catch (InvalidArgumentException exception)
            {
                // The project's type is no longer configured: its containers are listed below without a type.
                await _context.Error.WriteLineAsync($"warning: project {project.Id:D}: {exception.Message}");
                continue;
            }

            foreach (var state in states)
            {
                listed.Add(state.Name);
                rows.Add([state.Name, $"{project.Name} ({project.Id:D})", project.ContainerType, state.Image, state.State, Currency(state)]);
            }
        }

        foreach (var info in await runtime.ListByLabelAsync(ProjectContainers.ManagedLabel, "true", cancellationToken))
        {
            if (!listed.Contains(info.Name))
            {
                var project = info.Labels.TryGetValue(ProjectContainers.ProjectLabel, out var id) ? id : "-";
                rows.Add([info.Name, $"{project} (not a project of this home)", "-", info.Image, info.State, "-"]);
            }
        }

        var widths = Enumerable.Range(0, 6).Select(column => rows.Max(row => row[column].Length)).ToArray();
        foreach (var row in rows)
        {
            await _context.Out.WriteLineAsync(string.Join("  ", row.Select((cell, column) => cell.PadRight(widths[column]))).TrimEnd());
        }

        return CliApp.Success;
    }

    private async Task<int> RefreshAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var home = _context.RequireHome(parseResult);
        var projectId = ProjectIds.Parse("project-id", parseResult.GetValue(_projectId));
        if (new RunFiles(home).LivePid() is { } pid)
        {
            throw new ConflictException(
                $"the server of {home.Root} is running (pid {pid}): it holds the agents of this project's containers, so refresh through it "
                + "with the MCP container tool ({\"action\": \"refresh\", \"project_id\": \"" + projectId.ToString("D") + "\"}), or stop it first ('oubliette stop')");
        }

        var config = ConfigParser.Load(home.ConfigFile);
        var paths = new ProjectPaths(home, config);
        var project = await new ProjectStore(paths).FindAsync(projectId, cancellationToken)
            ?? throw new NotFoundException($"project-id '{projectId:D}' not found in {home.Root}");
        using var runtime = new DockerContainerRuntime(Environment.GetEnvironmentVariable("DOCKER_HOST"));
        // Labels others put on the container (a test run's, say) stay on the one made in its place.
        var old = await runtime.InspectAsync(ProjectContainers.NameOf(projectId), cancellationToken);
        var kept = old?.Labels.Where(label => !label.Key.StartsWith("oubliette.", StringComparison.Ordinal) || label.Key == "oubliette.test")
            .ToDictionary(StringComparer.Ordinal) ?? [];
        var containers = Containers(runtime, paths, config, new ContainerLabelSet(kept));
        var stale = (await containers.StatesAsync(project, cancellationToken)).Where(state => !state.Current).ToList();
        if (stale.Count == 0 && old is not null)
        {
            await _context.Out.WriteLineAsync($"{ProjectContainers.NameOf(projectId)} already runs the current image of type {project.ContainerType} ({containers.ImageOf(project)}): nothing to do");
            return CliApp.Success;
        }

        var active = (await new SessionStore(paths).LoadAllAsync(projectId, cancellationToken)).Where(session => !SessionStatus.IsFinal(session.Status)).ToList();
        if (active.Count > 0 && !parseResult.GetValue(_force))
        {
            throw new ConflictException(
                $"project '{projectId:D}' has {active.Count} active session{(active.Count == 1 ? "" : "s")}: "
                + string.Join(", ", active.Select(session => $"{session.SessionId} ({session.Status})"))
                + "; refreshing removes the container their agent runs in: end them, or pass --force");
        }

        var removed = await containers.RefreshAsync(stale, project, all: false, cancellationToken);
        foreach (var name in removed)
        {
            await _context.Out.WriteLineAsync($"removed {name}");
        }

        var status = await containers.StatusAsync(project, cancellationToken);
        await _context.Out.WriteLineAsync($"{status.Name} {status.State} on {status.Image} (type {project.ContainerType})");
        return CliApp.Success;
    }

    private static string Currency(ProjectContainerState state) =>
        state.Current ? "yes"
        : state.CurrentImageId is null && state.CurrentSpec ? "no (image not built or type changed)"
        : !state.CurrentSpec ? "no (older container spec)"
        : "no (image rebuilt)";

    private static ProjectContainers Containers(IContainerRuntime runtime, ProjectPaths paths, OublietteConfig config, ContainerLabelSet labels) =>
        new(runtime, paths, config, labels, NullLogger<ProjectContainers>.Instance);
}
