using Oubliette.Errors;

namespace Oubliette.Auth;

/// <summary>What a token may do: <c>admin</c>, <c>admin:ro</c>, <c>project:&lt;uuid&gt;</c> or <c>project:&lt;uuid&gt;:ro</c>.</summary>
public sealed record TokenScope(ScopeKind Kind, Guid? ProjectId)
{
    public static readonly TokenScope Admin = new(ScopeKind.Admin, null);
    public static readonly TokenScope AdminReadOnly = new(ScopeKind.AdminReadOnly, null);
    public static readonly IReadOnlyList<string> Formats = ["admin", "admin:ro", "project:<uuid>", "project:<uuid>:ro"];

    public bool IsReadOnly => Kind is ScopeKind.AdminReadOnly or ScopeKind.ProjectReadOnly;
    public bool IsGlobal => Kind is ScopeKind.Admin or ScopeKind.AdminReadOnly;

    public static TokenScope Project(Guid projectId, bool readOnly = false) =>
        new(readOnly ? ScopeKind.ProjectReadOnly : ScopeKind.Project, projectId);

    public static TokenScope Parse(string? text)
    {
        if (TryParse(text, out var scope))
        {
            return scope;
        }

        throw new InvalidArgumentException(
            $"scope '{text}' is not valid (allowed: {string.Join(", ", Formats)}, where <uuid> is a project id such as 3f2c8a4e-0b1d-4c5e-9a7f-2d6b8e1c0a93)");
    }

    public static bool TryParse(string? text, out TokenScope scope)
    {
        scope = Admin;
        switch (text)
        {
            case "admin":
                return true;
            case "admin:ro":
                scope = AdminReadOnly;
                return true;
            case null:
                return false;
        }

        var parts = text.Split(':');
        if (parts.Length is < 2 or > 3 || parts[0] != "project" || !Guid.TryParseExact(parts[1], "D", out var projectId))
        {
            return false;
        }

        if (parts.Length == 3 && parts[2] != "ro")
        {
            return false;
        }

        scope = Project(projectId, readOnly: parts.Length == 3);
        return true;
    }

    public override string ToString() => Kind switch
    {
        ScopeKind.Admin => "admin",
        ScopeKind.AdminReadOnly => "admin:ro",
        ScopeKind.Project => $"project:{ProjectId:D}",
        _ => $"project:{ProjectId:D}:ro",
    };
}
