namespace Oubliette.Errors;

/// <summary>The request clashes with the current state (a duplicate name, a live daemon).</summary>
public sealed class ConflictException(string message) : OublietteException(message);
