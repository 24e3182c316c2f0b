namespace Oubliette.Errors;

/// <summary>An argument is missing or has a value that is not allowed.</summary>
public sealed class InvalidArgumentException(string message) : OublietteException(message);
