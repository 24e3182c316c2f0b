using System.Reflection;

namespace Oubliette.Tests;

public sealed class ArchitectureTests
{
    private static readonly Assembly Server = typeof(Oubliette.Cli.CliApp).Assembly;

    private static IEnumerable<Type> ReferencedTypes(Type type)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        if (type.BaseType is { } baseType)
        {
            yield return baseType;
        }

        foreach (var implemented in type.GetInterfaces())
        {
            yield return implemented;
        }

        foreach (var field in type.GetFields(all))
        {
            yield return field.FieldType;
        }

        foreach (var property in type.GetProperties(all))
        {
            yield return property.PropertyType;
        }

        foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
        {
            if (method is MethodInfo info)
            {
                yield return info.ReturnType;
            }

            foreach (var parameter in method.GetParameters())
            {
                yield return parameter.ParameterType;
            }
        }
    }

    private static IEnumerable<Type> Expand(Type type)
    {
        yield return type;
        if (type.HasElementType && type.GetElementType() is { } element)
        {
            foreach (var inner in Expand(element))
            {
                yield return inner;
            }
        }

        if (type.IsGenericType)
        {
            foreach (var argument in type.GetGenericArguments().SelectMany(Expand))
            {
                yield return argument;
            }
        }
    }

    private static List<string> Violations(string[] forbiddenPrefixes, string[] allowedFolders) =>
        [.. Server.GetTypes()
            .Where(type => !allowedFolders.Any(folder => (type.Namespace ?? "").StartsWith($"Oubliette.{folder}", StringComparison.Ordinal)))
            .Where(type => !type.Name.StartsWith('<'))
            .SelectMany(type => ReferencedTypes(type).SelectMany(Expand)
                .Where(used => forbiddenPrefixes.Any(prefix => (used.Namespace ?? "").StartsWith(prefix, StringComparison.Ordinal)))
                .Select(used => $"{type.FullName} uses {used.FullName}"))
            .Distinct()];

    [Fact]
    public void Mcp_and_AspNetCore_types_stay_in_Mcp_Hosting_Gateway_and_Cli() =>
        Assert.Empty(Violations(["ModelContextProtocol", "Microsoft.AspNetCore"], ["Mcp", "Hosting", "Gateway", "Cli"]));

    [Fact]
    public void Docker_types_stay_in_Containers_Docker() =>
        Assert.Empty(Violations(["Docker.DotNet"], ["Containers.Docker"]));

    [Fact]
    public void The_check_finds_a_real_use() =>
        Assert.NotEmpty(Violations(["ModelContextProtocol"], ["Cli"]));
}
