namespace Oubliette.Operations;

/// <summary>One thing the server needs in order to be ready. Throws with a readable reason when it is not.</summary>
public interface IReadinessCheck
{
    string Name { get; }

    Task CheckAsync(CancellationToken cancellationToken);
}
