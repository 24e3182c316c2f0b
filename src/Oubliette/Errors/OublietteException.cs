namespace Oubliette.Errors;

/// <summary>
/// An expected failure whose message is written for the caller. Mapped once to MCP tool errors and once to CLI exit codes.
/// </summary>
public abstract class OublietteException(string message) : Exception(message);
