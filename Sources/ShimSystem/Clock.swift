import Glibc

/// Wall-clock and monotonic time as nanoseconds.
public enum Clock {
    /// Unix time in nanoseconds (CLOCK_REALTIME): what the protocol reports.
    public static func realtimeNanos() -> Int64 { read(CLOCK_REALTIME) }

    /// Nanoseconds on CLOCK_MONOTONIC: for deadlines and durations.
    public static func monotonicNanos() -> Int64 { read(CLOCK_MONOTONIC) }

    private static func read(_ clock: clockid_t) -> Int64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
