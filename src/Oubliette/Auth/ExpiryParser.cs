using System.Globalization;
using System.Text.RegularExpressions;
using Oubliette.Errors;

namespace Oubliette.Auth;

/// <summary>Parses token lifetimes: <c>90m</c>, <c>12h</c>, <c>30d</c>, <c>2w</c>, or an ISO-8601 instant in the future.</summary>
public static partial class ExpiryParser
{
    public static DateTimeOffset? Parse(string? text, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var match = Duration().Match(text.Trim());
        if (match.Success && int.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var amount) && amount > 0)
        {
            var span = match.Groups[2].Value switch
            {
                "m" => TimeSpan.FromMinutes(amount),
                "h" => TimeSpan.FromHours(amount),
                "d" => TimeSpan.FromDays(amount),
                _ => TimeSpan.FromDays(7.0 * amount),
            };
            if (span <= TimeSpan.FromDays(3650))
            {
                return now + span;
            }
        }
        else if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var instant) && instant > now)
        {
            return instant;
        }

        throw new InvalidArgumentException(
            $"expires '{text}' is not valid (use a duration such as 90m, 12h, 30d or 2w, up to 10 years, or a future ISO-8601 time)");
    }

    [GeneratedRegex("^([0-9]{1,6})([mhdw])$")]
    private static partial Regex Duration();
}
