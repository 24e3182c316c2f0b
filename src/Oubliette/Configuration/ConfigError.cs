namespace Oubliette.Configuration;

/// <summary>One problem in the config file: where (a JSON path such as <c>defaults.limits.max_cost_usd</c>) and why.</summary>
public sealed record ConfigError(string Path, string Reason)
{
    public override string ToString() => $"{Path}: {Reason}";
}
