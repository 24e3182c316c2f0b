namespace Oubliette.Mcp;

/// <summary>What <c>project options</c> shows: choices for creating a project, credential names (never values), defaults.</summary>
public sealed record ProjectOptions(
    IReadOnlyList<ModelOption> Models,
    string? DefaultModel,
    CredentialNames Credentials,
    IReadOnlyDictionary<string, string> ContainerTypes,
    DefaultsView Defaults,
    IReadOnlyList<string> ScopeFormats,
    IReadOnlyList<string> AutonomyLevels,
    IReadOnlyList<string> ReasoningLevels);
