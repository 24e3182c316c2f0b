namespace Oubliette.Configuration;

public sealed record GithubCredential(string Token, string? Description)
{
    public static readonly IReadOnlyList<string> DefaultHosts = ["github.com"];

    /// <summary>The hosts (host or host:port) this token may be sent to; any other clone gets no Authorization header.</summary>
    public IReadOnlyList<string> Hosts { get; init; } = DefaultHosts;
}
