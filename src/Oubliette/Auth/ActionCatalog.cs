using Oubliette.Errors;

namespace Oubliette.Auth;

/// <summary>Every action of every tool and the permission class it needs; the single table SPEC §4 describes.</summary>
public static class ActionCatalog
{
    private static readonly Dictionary<string, PermissionClass> Classes = new(StringComparer.Ordinal)
    {
        ["token.create"] = PermissionClass.AdminOnly,
        ["token.list"] = PermissionClass.AdminOnly,
        ["token.revoke"] = PermissionClass.AdminOnly,

        ["project.create"] = PermissionClass.GlobalWrite,
        ["image.build"] = PermissionClass.GlobalWrite,
        ["project.list"] = PermissionClass.GlobalRead,
        ["project.options"] = PermissionClass.GlobalRead,
        ["project.get"] = PermissionClass.ProjectRead,
        ["project.delete"] = PermissionClass.ProjectWrite,

        ["container.start"] = PermissionClass.ProjectWrite,
        ["container.stop"] = PermissionClass.ProjectWrite,
        ["container.restart"] = PermissionClass.ProjectWrite,
        ["container.status"] = PermissionClass.ProjectWrite,
        ["container.exec"] = PermissionClass.ProjectWrite,
        ["container.logs"] = PermissionClass.ProjectRead,
        ["container.refresh"] = PermissionClass.ProjectWrite,

        ["workspace.list"] = PermissionClass.ProjectRead,
        ["workspace.create"] = PermissionClass.ProjectWrite,
        ["workspace.delete"] = PermissionClass.ProjectWrite,

        ["session.spawn"] = PermissionClass.ProjectWrite,
        ["session.message"] = PermissionClass.ProjectWrite,
        ["session.end"] = PermissionClass.ProjectWrite,
        ["session.cleanup"] = PermissionClass.ProjectWrite,
        ["session.respond"] = PermissionClass.ProjectWrite,
        ["session.get"] = PermissionClass.ProjectRead,
        ["session.list"] = PermissionClass.ProjectRead,
        ["session.events"] = PermissionClass.ProjectRead,
        ["session.wait"] = PermissionClass.ProjectRead,

        ["schedule.create"] = PermissionClass.ProjectWrite,
        ["schedule.update"] = PermissionClass.ProjectWrite,
        ["schedule.delete"] = PermissionClass.ProjectWrite,
        ["schedule.trigger"] = PermissionClass.ProjectWrite,
        ["schedule.get"] = PermissionClass.ProjectRead,
        ["schedule.list"] = PermissionClass.ProjectRead,
        ["schedule.history"] = PermissionClass.ProjectRead,
    };

    public static IReadOnlyCollection<string> Actions => Classes.Keys;

    public static PermissionClass ClassOf(string action) =>
        Classes.TryGetValue(action, out var permission)
            ? permission
            : throw new InvalidArgumentException($"action '{action}' is not known");

    /// <summary>The actions of one tool, e.g. <c>create, list, revoke</c> for <c>token</c>.</summary>
    public static IReadOnlyList<string> ActionsOf(string tool) =>
        [.. Classes.Keys.Where(key => key.StartsWith(tool + ".", StringComparison.Ordinal)).Select(key => key[(tool.Length + 1)..])];
}
