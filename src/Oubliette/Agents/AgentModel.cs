namespace Oubliette.Agents;

/// <summary>The model a prompt runs on, as the agent names it: provider id (a credential name) and model id.</summary>
public sealed record AgentModel(string ProviderId, string ModelId);
