using System.Security.Cryptography;
using System.Text;

namespace Oubliette.Auth;

/// <summary>Makes and hashes token secrets. Secrets are <c>oub_</c> + 32 random bytes in hex; only their SHA-256 is stored.</summary>
public static class TokenSecrets
{
    public const string SecretPrefix = "oub_";
    public const string IdPrefix = "tok_";
    private const string IdAlphabet = "abcdefghijkmnopqrstuvwxyz23456789";

    public static string NewSecret() => SecretPrefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public static string NewId() => IdPrefix + RandomNumberGenerator.GetString(IdAlphabet, 8);

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    /// <summary>Shape check before any lookup, so garbage never reaches the database.</summary>
    public static bool LooksLikeSecret([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? text) =>
        text is { Length: 68 } && text.StartsWith(SecretPrefix, StringComparison.Ordinal) && text.AsSpan(4).ContainsAnyExcept("0123456789abcdef") is false;
}
