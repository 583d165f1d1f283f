/// How much the bench measures: the full run behind docs/BENCHMARKS.md, or
/// the quick smoke run of the test suite.
struct Settings: Codable {
    var runs: Int
    /// Runs of the latency figures (cheap, so more of them).
    var latencyRuns: Int
    /// Container output per log-throughput run.
    var logBytes: Int
    /// The data file the container prints, `logBytes / dataFileBytes` times.
    var dataFileBytes: Int
    /// Idle containers measured at once for memory.
    var idleContainers: Int
    /// State round trips timed (answered by the monitor).
    var stateCalls: Int
    /// Round trips that fork the runtime (`runc state`, State refresh).
    var runtimeStateCalls: Int
    /// Take the start → exit time of /bin/true off each throughput run (the
    /// quick run's few MB take less time than starting a container does).
    var subtractStartup = true
    /// The scale section (hundreds of containers); nil: not measured.
    var scale: ScaleSettings?

    static let full = Settings(runs: 7, latencyRuns: 50, logBytes: 200_000_000, dataFileBytes: 10_000_000,
                               idleContainers: 20, stateCalls: 2000, runtimeStateCalls: 100, scale: .full)
    static let quick = Settings(runs: 1, latencyRuns: 1, logBytes: 4_000_000, dataFileBytes: 1_000_000,
                                idleContainers: 2, stateCalls: 50, runtimeStateCalls: 5, subtractStartup: false)

    /// The container's command that prints the data file `logBytes` bytes' worth.
    func catArgs(_ file: String) -> [String] {
        ["/bin/cat"] + Array(repeating: file, count: max(1, logBytes / dataFileBytes))
    }
}

/// The scale section: many idle containers at once, bursts of creation,
/// an engine polling them all, and their teardown (Scale/ScaleBench.swift).
struct ScaleSettings: Codable {
    /// Numbers of idle containers, each under its own monitor, at which
    /// memory is measured (the host is filled step by step). The first is
    /// the size the flatness target compares the largest with.
    var sizes: [Int]
    /// Containers per creation burst.
    var burstContainers: Int
    /// Concurrent engines sharing a burst.
    var burstEngines: [Int]
    /// Bursts per (engines, monitor), interleaved. Six: a burst's latency
    /// and CPU per container vary by a quarter from burst to burst of the
    /// same kind here, more than a monitor adds, and the host's slow spells
    /// last tens of seconds (docs/benchmarks-analysis.md).
    var burstRuns: Int
    /// Seconds the engine polls State on every container, once a second.
    var pollSeconds: Int

    static let full = ScaleSettings(sizes: [20, 100, 500, 1000], burstContainers: 100, burstEngines: [1, 4, 16],
                                    burstRuns: 6, pollSeconds: 10)
}
