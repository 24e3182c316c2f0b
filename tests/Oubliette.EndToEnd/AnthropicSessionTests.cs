using Oubliette.Testing;

namespace Oubliette.EndToEnd;

/// <summary>The same agent through an Anthropic-kind provider: the gateway speaks its headers, the protocol passes through.</summary>
[Collection(DockerCollection.Name)]
public sealed class AnthropicSessionTests(DockerEnvironment docker) : IAsyncLifetime
{
    private SessionFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await SessionFixture.StartAsync(docker, kind: "anthropic");

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task An_anthropic_provider_gets_its_key_as_x_api_key_and_the_agent_uses_its_tools()
    {
        _fixture.Model.Enqueue(
            ScriptStep.CallTool("bash", new { command = "echo via-anthropic > anthropic.txt", description = "write" }, 80, 10),
            ScriptStep.Reply("written", 90, 5));

        var sessionId = await _fixture.SpawnAsync("Write anthropic.txt");
        await _fixture.WaitAsync(sessionId);
        var session = await _fixture.GetAsync(sessionId);

        Assert.Equal("via-anthropic\n", await File.ReadAllTextAsync(Path.Combine(_fixture.HostWorkspace, "anthropic.txt")));
        var request = _fixture.Model.AgentRequests[0];
        Assert.Equal("/v1/messages", request.Path);
        Assert.Equal(SessionFixture.ProviderKey, request.Headers["x-api-key"]);
        Assert.False(request.Headers.ContainsKey("authorization"));
        Assert.Equal(170, session.GetProperty("tokens_in").GetInt64());
        Assert.Equal(15, session.GetProperty("tokens_out").GetInt64());
    }
}
