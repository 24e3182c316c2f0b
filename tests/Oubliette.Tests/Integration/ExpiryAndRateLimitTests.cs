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

        // Expired half an hour ago: within cleanup's retention (60 min), after which the token is purged and unknown.
        time.Advance(TimeSpan.FromMinutes(90));
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

        // Sent at once, so that the one-second refill can add at most one request to the burst of three.
        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => PostAsync(server, home.AdminSecret)));
        var statuses = responses.Select(response => response.Status).ToList();
        var limited = responses.First(response => response.Status == HttpStatusCode.TooManyRequests);
        var otherToken = await PostAsync(server, other);

        Assert.InRange(statuses.Count(status => status == HttpStatusCode.OK), 3, 4);
        Assert.InRange(statuses.Count(status => status == HttpStatusCode.TooManyRequests), 4, 5);
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
