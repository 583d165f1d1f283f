import Glibc

/// Wall-clock and monotonic time as nanoseconds.
public enum Clock {
    /// Unix time in nanoseconds (CLOCK_REALTIME): what the protocol reports.
    public static func realtimeNanos() -> Int64 { read(CLOCK_REALTIME) }

    /// Nanoseconds on CLOCK_MONOTONIC: for deadlines and durations.
    public static func monotonicNanos() -> Int64 { read(CLOCK_MONOTONIC) }

    /// Seconds as nanoseconds, saturating: a negative or NaN delay is 0, a
    /// delay beyond Int64's range (about 292 years) or infinity is Int64.max.
    /// Never traps, whatever a client sent.
    public static func nanos(fromSeconds seconds: Double) -> Int64 {
        guard seconds > 0 else { return 0 }  // also NaN
        let nanos = seconds * 1e9
        return nanos < 9.2e18 ? Int64(nanos) : Int64.max
    }

    private static func read(_ clock: clockid_t) -> Int64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

/// A clock that moves only when told, for an EventLoop under test: timers
/// fire on `advance` and the next turn, without sleeping.
public final class ManualClock {
    public private(set) var nanos: Int64

    public init(startingAt nanos: Int64 = 1_000_000_000) { self.nanos = nanos }

    public func advance(seconds: Double) { nanos += Clock.nanos(fromSeconds: seconds) }

    public func read() -> Int64 { nanos }
}
