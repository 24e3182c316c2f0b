using Oubliette.Configuration;

namespace Oubliette.Tests.Configuration;

public sealed class SchedulesConfigTests
{
    [Fact]
    public void The_template_and_an_empty_file_give_the_documented_defaults()
    {
        Assert.Equal(new SchedulesConfig(100, 60), ConfigParser.Parse(ConfigTemplate.Text, "template").Schedules);
        Assert.Equal(new SchedulesConfig(100, 60), ConfigParser.Parse("{}", "empty").Schedules);
    }

    [Fact]
    public void Given_values_are_read()
    {
        var config = ConfigParser.Parse("""{ "schedules": { "keep_executions": 5, "missed_grace_seconds": 10 } }""", "test.jsonc");

        Assert.Equal(new SchedulesConfig(5, 10), config.Schedules);
    }

    [Theory]
    [InlineData("""{ "schedules": { "keep_executions": 0 } }""", "schedules.keep_executions", "0 is out of range (1..1000000)")]
    [InlineData("""{ "schedules": { "missed_grace_seconds": 0 } }""", "schedules.missed_grace_seconds", "0 is out of range (1..86400)")]
    [InlineData("""{ "schedules": { "missed_grace_seconds": "soon" } }""", "schedules.missed_grace_seconds", "expected a whole number")]
    [InlineData("""{ "schedules": { "keep": 5 } }""", "schedules.keep", "unknown key")]
    public void Bad_values_are_start_up_errors_naming_the_key(string json, string path, string reason)
    {
        var exception = Assert.Throws<ConfigException>(() => ConfigParser.Parse(json, "test.jsonc"));

        Assert.Contains(exception.Errors, error => error.Path == path && error.Reason.Contains(reason, StringComparison.Ordinal));
    }
}
