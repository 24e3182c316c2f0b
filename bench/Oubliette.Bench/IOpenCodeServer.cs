using System.Net;

namespace Oubliette.Bench;

/// <summary>A running <c>opencode serve</c> the bench reads directly: its HTTP API and the socket that reaches it.</summary>
internal interface IOpenCodeServer
{
    HttpClient Http { get; }

    /// <summary>Where a plain socket reaches the same HTTP server (a loopback port or a unix socket).</summary>
    EndPoint EndPoint { get; }

    /// <summary>Creates a session and sends it one prompt (the scripted model answers it); returns the session id.</summary>
    Task<string> PromptNewSessionAsync(string text);
}
