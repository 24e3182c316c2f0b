namespace Oubliette.Errors;

/// <summary>The named thing does not exist.</summary>
public sealed class NotFoundException(string message) : OublietteException(message);
