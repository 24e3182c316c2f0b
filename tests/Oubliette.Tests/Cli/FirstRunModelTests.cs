using Oubliette.Configuration;
using Oubliette.Errors;

namespace Oubliette.Tests.Cli;

/// <summary><c>oubliette init</c> on a first run: provider keys from the environment become the config's first model.</summary>
public sealed class FirstRunModelTests
{
    private static FirstRunModel? From(params (string Name, string Value)[] variables) =>
        FirstRunModel.FromEnvironment(name => variables.FirstOrDefault(variable => variable.Name == name).Value);

    [Fact]
    public void No_key_in_the_environment_leaves_the_template_as_it_is()
    {
        Assert.Null(From());
        Assert.Equal(ConfigTemplate.Text, ConfigTemplate.Render(null));
    }

    [Fact]
    public void An_anthropic_key_becomes_the_credential_and_the_default_model()
    {
        var model = From(("ANTHROPIC_API_KEY", "sk-ant-\"quoted\\key"));

        var config = ConfigParser.Parse(ConfigTemplate.Render(model), "rendered");

        var credential = config.Credentials.Providers["anthropic"];
        Assert.Equal(("anthropic", "sk-ant-\"quoted\\key"), (credential.Kind, credential.ApiKey));
        Assert.Equal("anthropic", config.Credentials.ProvidersDefault);
        Assert.Equal(FirstRunModel.Alias, config.Defaults.Agent.Model);
        Assert.Equal((FirstRunModel.DefaultAnthropicModel, "anthropic"), (config.Models.Models["default"].Model, config.Models.Models["default"].Provider));
        Assert.DoesNotContain("sk-ant", model!.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_base_url_with_a_model_comes_first_and_other_keys_are_kept_as_credentials()
    {
        var model = From(("OUBLIETTE_MODEL_BASE_URL", "http://127.0.0.1:11434/v1"), ("OUBLIETTE_MODEL", "llama3.1"), ("OPENAI_API_KEY", "sk-openai"));

        var config = ConfigParser.Parse(ConfigTemplate.Render(model), "rendered");

        Assert.Equal(("openai-compatible", "none", "http://127.0.0.1:11434/v1"),
            (config.Credentials.Providers["local"].Kind, config.Credentials.Providers["local"].ApiKey, config.Credentials.Providers["local"].BaseUrl));
        Assert.Equal(("openai", "sk-openai"), (config.Credentials.Providers["openai"].Kind, config.Credentials.Providers["openai"].ApiKey));
        Assert.Equal(("llama3.1", "local"), (config.Models.Models["default"].Model, config.Models.Models["default"].Provider));
    }

    [Fact]
    public void An_openai_key_with_a_model_name_uses_that_name()
    {
        var model = From(("OPENAI_API_KEY", "sk-openai"), ("OUBLIETTE_MODEL", "gpt-4.1"));

        Assert.Equal(("openai", "gpt-4.1"), (model?.DefaultCredential, model?.Model));
    }

    [Theory]
    [InlineData("http://127.0.0.1:11434/v1", null, "OUBLIETTE_MODEL is not")]
    [InlineData("ftp://host/v1", "m", "'ftp://host/v1' is not an http(s) URL")]
    public void A_base_url_that_cannot_work_is_refused(string baseUrl, string? modelName, string reason)
    {
        var exception = Assert.Throws<InvalidArgumentException>(() => From(("OUBLIETTE_MODEL_BASE_URL", baseUrl), ("OUBLIETTE_MODEL", modelName!)));

        Assert.Contains(reason, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Init_writes_the_key_only_into_the_config_and_never_prints_it()
    {
        await using var harness = await CliHarness.CreateAsync();
        var fresh = Path.Combine(harness.Scratch, "fresh-home");
        using var output = new StringWriter();
        using var error = new StringWriter();
        var context = new Oubliette.Cli.CliContext(output, error, TimeProvider.System,
            name => name == "ANTHROPIC_API_KEY" ? "sk-ant-secret-value" : null, harness.WorkingDirectory, harness.UserHome);

        var exitCode = await Oubliette.Cli.CliApp.RunAsync(["init", "--dir", fresh], context);

        Assert.True(exitCode == 0, error.ToString());
        var configFile = Path.Combine(fresh, "config", "oubliette.jsonc");
        Assert.Contains("sk-ant-secret-value", await File.ReadAllTextAsync(configFile), StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(configFile));
        Assert.DoesNotContain("sk-ant-secret-value", output.ToString() + error, StringComparison.Ordinal);
        Assert.Contains("'anthropic' from $ANTHROPIC_API_KEY", output.ToString(), StringComparison.Ordinal);
        foreach (var file in Directory.GetFiles(Path.Combine(fresh, "data"), "*", SearchOption.AllDirectories))
        {
            Assert.DoesNotContain("sk-ant-secret-value", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task Init_refuses_a_base_url_without_a_model_and_creates_nothing()
    {
        await using var harness = await CliHarness.CreateAsync();
        var fresh = Path.Combine(harness.Scratch, "fresh-home");
        using var output = new StringWriter();
        using var error = new StringWriter();
        var context = new Oubliette.Cli.CliContext(output, error, TimeProvider.System,
            name => name == "OUBLIETTE_MODEL_BASE_URL" ? "http://127.0.0.1:11434/v1" : null, harness.WorkingDirectory, harness.UserHome);

        var exitCode = await Oubliette.Cli.CliApp.RunAsync(["init", "--dir", fresh], context);

        Assert.Equal(2, exitCode);
        Assert.Contains("OUBLIETTE_MODEL", error.ToString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(fresh));
    }
}
