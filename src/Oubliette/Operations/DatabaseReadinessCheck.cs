using Oubliette.Storage;

namespace Oubliette.Operations;

/// <summary>Ready when the database file exists and answers a query on a fresh connection.</summary>
public sealed class DatabaseReadinessCheck(string name, SqliteDatabase database) : IReadinessCheck
{
    public string Name => name;

    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(database.Path))
        {
            throw new IOException($"{database.Path} does not exist");
        }

        await database.ProbeAsync(cancellationToken);
    }
}
