using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Oubliette.Testing;

namespace Oubliette.Tests.Integration;

public sealed class ExpiryAndRateLimitTests
{
    [Fact]
    public async Task Expired_token_gets_401_naming_the_expiry()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var home = await TestHome.CreateAsync(time: time);
        var secret = await home.CreateTokenAsync("admin:ro", expires: "1h", time: time);
        await using var server = await InProcessServer.StartAsync(home, time);
        await using (var client = await McpTestClient.ConnectAsync(server.McpEndpoint, secret))
        {
            Assert.False((await client.CallAsync("project", new { action = "options" })).IsError);
        }

        time.Advance(TimeSpan.FromHours(2));
        var response = await PostAsync(server, secret);

        Assert.Equal(HttpStatusCode.Unauthorized, response.Status);
        Assert.Contains("expired at", response.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requests_beyond_the_per_token_rate_get_429_with_retry_after()
    {
        var config = TestHome.DefaultConfig.Replace("\"requests_per_second\": 20", "\"requests_per_second\": 1", StringComparison.Ordinal)
            .Replace("\"burst\": 40", "\"burst\": 3", StringComparison.Ordinal);
        await using var home = await TestHome.CreateAsync(config);
        var other = await home.CreateTokenAsync("admin:ro");
        await using var server = await InProcessServer.StartAsync(home);

        var statuses = new List<HttpStatusCode>();
        (HttpStatusCode Status, string Body, string? RetryAfter) limited = default;
        for (var attempt = 0; attempt < 6; attempt++)
        {
            var response = await PostAsync(server, home.AdminSecret);
            statuses.Add(response.Status);
            if (response.Status == HttpStatusCode.TooManyRequests)
            {
                limited = response;
            }
        }

        var otherToken = await PostAsync(server, other);

        Assert.Equal(3, statuses.Count(status => status == HttpStatusCode.OK));
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[^1]);
        Assert.Contains("rate limit exceeded", limited.Body, StringComparison.Ordinal);
        Assert.True(int.Parse(limited.RetryAfter!, System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Equal(HttpStatusCode.OK, otherToken.Status);
    }

    private static async Task<(HttpStatusCode Status, string Body, string? RetryAfter)> PostAsync(InProcessServer server, string secret)
    {
        using var http = new HttpClient { BaseAddress = server.Address };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/mcp")
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
