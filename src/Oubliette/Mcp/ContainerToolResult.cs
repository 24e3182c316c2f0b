using Oubliette.Projects;

namespace Oubliette.Mcp;

public sealed record ContainerToolResult(ContainerStatus? Status = null, ExecOutput? Exec = null, LogsOutput? Logs = null);
