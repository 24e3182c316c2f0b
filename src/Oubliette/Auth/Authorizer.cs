using Oubliette.Errors;
using Oubliette.Operations;

namespace Oubliette.Auth;

/// <summary>Enforces the permission table for every caller and audits each denial.</summary>
public sealed class Authorizer(AuditLog audit)
{
    public void Demand(Caller caller, string action, Guid? projectId = null)
    {
        var permission = ActionCatalog.ClassOf(action);
        if (PermissionPolicy.Allows(caller.Scope, permission, projectId))
        {
            return;
        }

        var reason = PermissionPolicy.Explain(caller.Scope, action, permission, projectId);
        audit.Write(new AuditEntry(action, "denied", caller.TokenId, caller.Scope.ToString(), projectId?.ToString("D"), reason));
        throw new ForbiddenException($"forbidden: {reason}");
    }
}
