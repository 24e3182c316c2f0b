using System.Globalization;

namespace Oubliette.Bench;

/// <summary>
/// Waits until the machine's cores are nearly idle, so work left over from one measured round (OpenCode snapshots and
/// titles a turn after it ends) does not run inside the next one.
/// </summary>
internal static class MachineQuiet
{
    private static readonly TimeSpan Sample = TimeSpan.FromMilliseconds(100);

    /// <summary>Returns once two samples in a row were at least 90 % idle, or after <paramref name="limit"/>.</summary>
    public static async Task WaitAsync(TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        var quietSamples = 0;
        var before = Read();
        while (quietSamples < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(Sample);
            var after = Read();
            var total = after.Total - before.Total;
            quietSamples = total > 0 && (after.Idle - before.Idle) / (double)total >= 0.9 ? quietSamples + 1 : 0;
            before = after;
        }
    }

    /// <summary>The machine's total and idle (idle plus I/O wait) jiffies since boot, from the first line of /proc/stat.</summary>
    private static (long Total, long Idle) Read()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(field => long.Parse(field, CultureInfo.InvariantCulture)).ToArray();
        return (fields.Sum(), fields[3] + fields[4]);
    }
}
