namespace Oubliette.Auth;

/// <summary>The one permission class every action belongs to (SPEC §4).</summary>
public enum PermissionClass
{
    AdminOnly,
    GlobalWrite,
    GlobalRead,
    ProjectWrite,
    ProjectRead,
}
