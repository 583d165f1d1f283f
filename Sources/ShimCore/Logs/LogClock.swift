import ShimSystem

/// The clocks the logger reads: the wall clock for the timestamps of
/// records it writes on its own (a held tail at its deadline or at the end
/// of output), the monotonic clock for those deadlines. Tests pass their own.
public struct LogClock {
    public var realtimeNanos: () -> Int64
    public var monotonicNanos: () -> Int64

    public init(realtimeNanos: @escaping () -> Int64, monotonicNanos: @escaping () -> Int64) {
        self.realtimeNanos = realtimeNanos
        self.monotonicNanos = monotonicNanos
    }

    public static var system: LogClock {
        LogClock(realtimeNanos: Clock.realtimeNanos, monotonicNanos: Clock.monotonicNanos)
    }
}
