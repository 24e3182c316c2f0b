using Oubliette.Auth;
using Oubliette.Errors;

namespace Oubliette.Tests.Auth;

public sealed class TokenScopeTests
{
    private const string ProjectId = "3f2c8a4e-0b1d-4c5e-9a7f-2d6b8e1c0a93";

    [Theory]
    [InlineData("admin", ScopeKind.Admin)]
    [InlineData("admin:ro", ScopeKind.AdminReadOnly)]
    [InlineData("project:" + ProjectId, ScopeKind.Project)]
    [InlineData("project:" + ProjectId + ":ro", ScopeKind.ProjectReadOnly)]
    public void Valid_scopes_parse_and_round_trip(string text, ScopeKind kind)
    {
        var scope = TokenScope.Parse(text);

        Assert.Equal(kind, scope.Kind);
        Assert.Equal(text, scope.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("root")]
    [InlineData("Admin")]
    [InlineData("admin:rw")]
    [InlineData("project")]
    [InlineData("project:")]
    [InlineData("project:not-a-uuid")]
    [InlineData("project:" + ProjectId + ":rw")]
    [InlineData("project:" + ProjectId + ":ro:x")]
    [InlineData("project:{" + ProjectId + "}")]
    [InlineData("project:../etc")]
    public void Invalid_scopes_are_refused_with_the_allowed_formats(string text)
    {
        var exception = Assert.Throws<InvalidArgumentException>(() => TokenScope.Parse(text));

        Assert.Contains($"scope '{text}' is not valid", exception.Message, StringComparison.Ordinal);
        Assert.Contains("project:<uuid>:ro", exception.Message, StringComparison.Ordinal);
    }
}
