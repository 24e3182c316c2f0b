using Oubliette.Cli;

return await CliApp.RunAsync(args);
