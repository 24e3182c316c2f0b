namespace Oubliette.Auth;

/// <summary>The permission table of SPEC §4 as a pure function: may this scope do that class of action on that project?</summary>
public static class PermissionPolicy
{
    public static bool Allows(TokenScope scope, PermissionClass permission, Guid? projectId) => permission switch
    {
        PermissionClass.AdminOnly => scope.Kind == ScopeKind.Admin,
        PermissionClass.GlobalWrite => scope.Kind == ScopeKind.Admin,
        PermissionClass.GlobalRead => true,
        PermissionClass.ProjectWrite => scope.Kind == ScopeKind.Admin
            || (scope.Kind == ScopeKind.Project && projectId is not null && scope.ProjectId == projectId),
        PermissionClass.ProjectRead => scope.IsGlobal
            || (projectId is not null && scope.ProjectId == projectId),
        _ => false,
    };

    /// <summary>Whether a listing may show the project to this scope.</summary>
    public static bool CanSee(TokenScope scope, Guid projectId) => Allows(scope, PermissionClass.ProjectRead, projectId);

    public static string Explain(TokenScope scope, string action, PermissionClass permission, Guid? projectId) => permission switch
    {
        PermissionClass.AdminOnly => $"'{action}' needs an admin token; this token's scope is '{scope}'",
        PermissionClass.GlobalWrite => $"'{action}' needs an admin token (it changes global state); this token's scope is '{scope}'",
        PermissionClass.ProjectWrite when scope.IsReadOnly => $"'{action}' changes state; this token's scope '{scope}' is read-only",
        PermissionClass.ProjectWrite or PermissionClass.ProjectRead when projectId is null =>
            $"'{action}' needs a project_id",
        _ => $"'{action}' on project {projectId:D} is not allowed for this token's scope '{scope}'",
    };
}
