namespace Oubliette.Auth;

public enum ScopeKind
{
    Admin,
    AdminReadOnly,
    Project,
    ProjectReadOnly,
}
