using Oubliette.Auth;
using Oubliette.Errors;
using Oubliette.Operations;

namespace Oubliette.Tests.Auth;

public sealed class PermissionPolicyTests
{
    private static readonly Guid Mine = Guid.Parse("11111111-1111-4111-8111-111111111111");
    private static readonly Guid Other = Guid.Parse("22222222-2222-4222-8222-222222222222");

    public static TheoryData<string, PermissionClass, bool, bool> Table()
    {
        // scope, class, allowed on Mine, allowed on Other
        var data = new TheoryData<string, PermissionClass, bool, bool>();
        void Row(string scope, PermissionClass permission, bool mine, bool other) => data.Add(scope, permission, mine, other);
        var project = $"project:{Mine}";
        var projectRo = $"project:{Mine}:ro";

        Row("admin", PermissionClass.AdminOnly, true, true);
        Row("admin", PermissionClass.GlobalWrite, true, true);
        Row("admin", PermissionClass.GlobalRead, true, true);
        Row("admin", PermissionClass.ProjectWrite, true, true);
        Row("admin", PermissionClass.ProjectRead, true, true);

        Row("admin:ro", PermissionClass.AdminOnly, false, false);
        Row("admin:ro", PermissionClass.GlobalWrite, false, false);
        Row("admin:ro", PermissionClass.GlobalRead, true, true);
        Row("admin:ro", PermissionClass.ProjectWrite, false, false);
        Row("admin:ro", PermissionClass.ProjectRead, true, true);

        Row(project, PermissionClass.AdminOnly, false, false);
        Row(project, PermissionClass.GlobalWrite, false, false);
        Row(project, PermissionClass.GlobalRead, true, true);
        Row(project, PermissionClass.ProjectWrite, true, false);
        Row(project, PermissionClass.ProjectRead, true, false);

        Row(projectRo, PermissionClass.AdminOnly, false, false);
        Row(projectRo, PermissionClass.GlobalWrite, false, false);
        Row(projectRo, PermissionClass.GlobalRead, true, true);
        Row(projectRo, PermissionClass.ProjectWrite, false, false);
        Row(projectRo, PermissionClass.ProjectRead, true, false);
        return data;
    }

    [Theory]
    [MemberData(nameof(Table))]
    public void Permission_table_matches_the_spec(string scope, PermissionClass permission, bool onMine, bool onOther)
    {
        var parsed = TokenScope.Parse(scope);

        Assert.Equal(onMine, PermissionPolicy.Allows(parsed, permission, Mine));
        Assert.Equal(onOther, PermissionPolicy.Allows(parsed, permission, Other));
    }

    [Theory]
    [InlineData("token.create", PermissionClass.AdminOnly)]
    [InlineData("token.revoke", PermissionClass.AdminOnly)]
    [InlineData("project.create", PermissionClass.GlobalWrite)]
    [InlineData("image.build", PermissionClass.GlobalWrite)]
    [InlineData("project.list", PermissionClass.GlobalRead)]
    [InlineData("project.options", PermissionClass.GlobalRead)]
    [InlineData("project.delete", PermissionClass.ProjectWrite)]
    [InlineData("container.exec", PermissionClass.ProjectWrite)]
    [InlineData("container.logs", PermissionClass.ProjectRead)]
    [InlineData("session.spawn", PermissionClass.ProjectWrite)]
    [InlineData("session.events", PermissionClass.ProjectRead)]
    [InlineData("workspace.delete", PermissionClass.ProjectWrite)]
    [InlineData("workspace.list", PermissionClass.ProjectRead)]
    [InlineData("schedule.create", PermissionClass.ProjectWrite)]
    [InlineData("schedule.history", PermissionClass.ProjectRead)]
    public void Each_action_has_its_spec_permission_class(string action, PermissionClass expected) =>
        Assert.Equal(expected, ActionCatalog.ClassOf(action));

    [Fact]
    public void Denial_is_a_clear_error_and_is_audited()
    {
        var directory = Directory.CreateTempSubdirectory().FullName;
        try
        {
            var audit = new AuditLog(Path.Combine(directory, "audit.log"), TimeProvider.System);
            var authorizer = new Authorizer(audit);
            var caller = new Caller("tok_abcdefgh", "ci", TokenScope.Project(Mine, readOnly: true));

            var exception = Assert.Throws<ForbiddenException>(() => authorizer.Demand(caller, "session.spawn", Mine));
            authorizer.Demand(caller, "session.events", Mine);

            Assert.Contains($"scope 'project:{Mine}:ro' is read-only", exception.Message, StringComparison.Ordinal);
            var line = Assert.Single(File.ReadAllLines(audit.Path));
            Assert.Contains("\"action\":\"session.spawn\"", line, StringComparison.Ordinal);
            Assert.Contains("\"result\":\"denied\"", line, StringComparison.Ordinal);
            Assert.Contains("\"token_id\":\"tok_abcdefgh\"", line, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Project_scope_on_another_project_names_the_project()
    {
        var authorizer = new Authorizer(new AuditLog(Path.Combine(Path.GetTempPath(), $"audit-{Guid.NewGuid():N}.log"), TimeProvider.System));
        var caller = new Caller("tok_x", "x", TokenScope.Project(Mine));

        var exception = Assert.Throws<ForbiddenException>(() => authorizer.Demand(caller, "container.exec", Other));

        Assert.Contains(Other.ToString(), exception.Message, StringComparison.Ordinal);
    }
}
