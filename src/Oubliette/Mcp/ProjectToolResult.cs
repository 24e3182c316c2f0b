namespace Oubliette.Mcp;

/// <summary>Result of the <c>project</c> tool; <c>options</c> for the options action.</summary>
public sealed record ProjectToolResult(ProjectOptions? Options = null);
