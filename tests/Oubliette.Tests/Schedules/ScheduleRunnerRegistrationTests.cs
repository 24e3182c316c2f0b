using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Oubliette.Configuration;
using Oubliette.Hosting;
using Oubliette.Operations;
using Oubliette.Schedules;
using Oubliette.Testing;
using Prometheus;

namespace Oubliette.Tests.Schedules;

public sealed class ScheduleRunnerRegistrationTests
{
    [Fact]
    public void The_hosted_runner_and_the_tools_runner_are_one_instance_with_the_configured_options()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new OublietteMetrics(Metrics.NewCustomRegistry()));
        services.AddSingleton(ConfigParser.Parse("""{ "schedules": { "keep_executions": 7 } }""", "test.jsonc"));
        services.AddSingleton<IScheduleRunStore>(new InMemoryScheduleRunStore());
        ScheduleRunnerRegistration.Add(services);
        // The production adapters need the whole server; these tests swap in fakes (the last registration wins).
        services.AddSingleton<IScheduledSessions>(new FakeScheduledSessions());
        services.AddSingleton<IScheduleTokens>(new FakeScheduleTokens());

        using var provider = services.BuildServiceProvider();

        var runner = provider.GetRequiredService<ScheduleRunner>();
        Assert.Same(runner, provider.GetRequiredService<IScheduleRunner>());
        Assert.Contains(provider.GetServices<IHostedService>(), service => ReferenceEquals(service, runner));
        Assert.Equal(new SchedulesConfig(7, 60), provider.GetRequiredService<SchedulesConfig>());
    }
}
