using System.Collections;
using System.Reflection;
using System.Text.Json;

namespace Oubliette.Tests.Integration;

/// <summary>
/// Builds values of any result record from its constructor: every field that may be null left null; every nested record
/// and list there but each value that may be null left null; every field filled. Between them they give every shape a
/// result of that type can take on the wire, so a result type whose schema says otherwise fails without a sample written
/// per tool.
/// </summary>
internal static class SampleValues
{
    private static readonly NullabilityInfoContext Nullability = new();

    public static IEnumerable<object> Of(Type type) =>
        [Build(type, Fill.None, depth: 0)!, Build(type, Fill.Containers, depth: 0)!, Build(type, Fill.All, depth: 0)!];

    private enum Fill
    {
        None,
        Containers,
        All,
    }

    private static bool Leaf(Type type) =>
        type.IsValueType || type == typeof(string);

    private static object? Build(Type type, Fill fill, int depth)
    {
        if (depth > 8)
        {
            throw new InvalidOperationException($"{type} nests too deep for a sample");
        }

        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            return fill == Fill.All ? Build(underlying, fill, depth + 1) : null;
        }

        if (type == typeof(string))
        {
            return "text";
        }

        if (type == typeof(bool))
        {
            return true;
        }

        if (type == typeof(int) || type == typeof(long) || type == typeof(double))
        {
            return Convert.ChangeType(3, type, System.Globalization.CultureInfo.InvariantCulture);
        }

        if (type == typeof(Guid))
        {
            return Guid.NewGuid();
        }

        if (type == typeof(DateTimeOffset))
        {
            return DateTimeOffset.UtcNow;
        }

        if (type == typeof(JsonElement))
        {
            return JsonElement.Parse("""{"any": ["json", 1, null]}""");
        }

        if (type.IsEnum)
        {
            return Enum.GetValues(type).GetValue(0);
        }

        if (type.IsArray || (type.IsGenericType && type.GetGenericTypeDefinition() is var list
            && (list == typeof(IReadOnlyList<>) || list == typeof(List<>) || list == typeof(IEnumerable<>) || list == typeof(IList<>))))
        {
            var element = type.IsArray ? type.GetElementType()! : type.GetGenericArguments()[0];
            var items = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(element))!;
            items.Add(Build(element, fill, depth + 1));
            return items;
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() is var map && (map == typeof(IReadOnlyDictionary<,>) || map == typeof(Dictionary<,>)))
        {
            var arguments = type.GetGenericArguments();
            var dictionary = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(arguments))!;
            dictionary.Add(Build(arguments[0], fill, depth + 1)!, Build(arguments[1], fill, depth + 1));
            return dictionary;
        }

        var constructor = type.GetConstructors().OrderByDescending(candidate => candidate.GetParameters().Length).FirstOrDefault()
            ?? throw new InvalidOperationException($"no public constructor on {type}");
        return constructor.Invoke([.. constructor.GetParameters().Select(parameter =>
            fill != Fill.All && !parameter.ParameterType.IsValueType && Nullability.Create(parameter).WriteState == NullabilityState.Nullable
                && (fill == Fill.None || Leaf(parameter.ParameterType))
                ? null
                : Build(parameter.ParameterType, fill, depth + 1))]);
    }
}
