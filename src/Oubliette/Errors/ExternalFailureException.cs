namespace Oubliette.Errors;

/// <summary>A program or service outside Oubliette (debootstrap, git, npm, the container engine) failed; the message says how.</summary>
public sealed class ExternalFailureException(string message) : OublietteException(message);
