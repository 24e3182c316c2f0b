using System.Globalization;
using Oubliette.Configuration;
using Oubliette.Errors;

namespace Oubliette.Operations;

/// <summary>
/// The pid file (<c>data/run/oubliette.pid</c>) and address file of a running server. A pid file counts as live only
/// when its process exists and is an oubliette process, so a stale file left by a crash never blocks a start.
/// </summary>
public sealed class RunFiles(OublietteHome home)
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The pid of the live server of this home, if any.</summary>
    public int? LivePid()
    {
        if (!File.Exists(home.PidFile)
            || !int.TryParse(File.ReadAllText(home.PidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            return null;
        }

        return IsOublietteProcess(pid) ? pid : null;
    }

    /// <summary>Writes this process's pid, refusing when another live server owns the home.</summary>
    public void ClaimPidFile()
    {
        if (LivePid() is { } running && running != Environment.ProcessId)
        {
            throw new ConflictException($"oubliette is already running for {home.Root} (pid {running}, pid file {home.PidFile}); stop it with 'oubliette stop'");
        }

        Directory.CreateDirectory(home.RunDirectory);
        WriteOwnerOnly(home.PidFile, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
    }

    public void WriteAddress(Uri address) => WriteOwnerOnly(home.AddressFile, address.ToString().TrimEnd('/'));

    public Uri? ReadAddress() =>
        File.Exists(home.AddressFile) && Uri.TryCreate(File.ReadAllText(home.AddressFile).Trim(), UriKind.Absolute, out var address) ? address : null;

    /// <summary>Removes both files, but only if the pid file is still this process's.</summary>
    public void Release()
    {
        if (File.Exists(home.PidFile) && File.ReadAllText(home.PidFile).Trim() == Environment.ProcessId.ToString(CultureInfo.InvariantCulture))
        {
            File.Delete(home.AddressFile);
            File.Delete(home.PidFile);
        }
    }

    private static bool IsOublietteProcess(int pid)
    {
        try
        {
            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline");
            return commandLine.Contains("oubliette", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void WriteOwnerOnly(string path, string content)
    {
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        using (var stream = new FileStream(temporary, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = OwnerOnly }))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
        }

        File.Move(temporary, path, overwrite: true);
    }
}
