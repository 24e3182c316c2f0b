namespace Oubliette.Errors;

/// <summary>The caller's scope does not allow the action.</summary>
public sealed class ForbiddenException(string message) : OublietteException(message);
