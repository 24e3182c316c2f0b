namespace Oubliette.Errors;

/// <summary>A configured limit would be exceeded.</summary>
public sealed class LimitReachedException(string message) : OublietteException(message);
