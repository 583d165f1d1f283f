/// What the scale section measured (docs/BENCHMARKS.md, "Scale"). Samples
/// are kept as order statistics: a thousand monitors give a thousand
/// memory figures per size, and the document shows their spread.
struct ScaleResults: Codable {
    /// The sizes and runs actually used (the host's limits may cut them).
    var settings: ScaleSettings
    /// The host's limits checked before filling it, one line each.
    var limits: [String] = []
    /// Idle containers step by step, per monitor in the order measured.
    var density: [String: [DensityStep]] = [:]
    /// create → running of each container while the host filled up, per
    /// monitor, in buckets of consecutive containers.
    var ramp: [String: [RampBucket]] = [:]
    var bursts: [BurstRun] = []
    var polls: [String: PollResult] = [:]
    var teardowns: [String: TeardownResult] = [:]
    /// Host MemAvailable (kB) before each monitor's ramp and after its
    /// teardown.
    var memAvailableBefore: [String: Double] = [:]
    var memAvailableAfter: [String: Double] = [:]
    var notes: [String] = []
    /// The host's load average as each part began ("part: 1 5 15 min"):
    /// other work on the machine shows here (and the bench's own previous
    /// part, in the 1-minute figure). Optional: results saved before it
    /// still render.
    var loadAverages: [String]?

    mutating func noteLoad(_ part: String) {
        loadAverages = (loadAverages ?? []) + ["\(part): \(ProcFS.loadAverage())"]
    }
}

/// Order statistics of one sample.
struct Summary: Codable {
    var count: Int
    var min: Double
    var median: Double
    var p99: Double
    var max: Double
    var sum: Double

    init?(_ values: [Double]) {
        guard let median = Stats.median(values), let p99 = Stats.percentile(values, 99),
              let low = values.min(), let high = values.max() else { return nil }
        count = values.count
        min = low
        self.median = median
        self.p99 = p99
        max = high
        sum = values.reduce(0, +)
    }
}

/// Every monitor's memory with `containers` idle containers on the host.
struct DensityStep: Codable {
    var containers: Int
    var privateDirtyKB: Summary
    var pssKB: Summary
    var rssKB: Summary
    /// The host's MemAvailable at this size, kB.
    var memAvailableKB: Double
}

/// create → running of containers number `from` ..< `to` of a ramp.
struct RampBucket: Codable {
    var from: Int
    var to: Int
    var createToRunningMs: Summary
}

/// One burst: `containers` created by `engines` engines at once.
struct BurstRun: Codable {
    /// "runc" (no monitor), "ocishim" or "conmon".
    var kind: String
    var engines: Int
    var containers: Int
    var seconds: Double
    var createToRunningMs: Summary
    /// The machine's busy CPU time over the burst (ProcFS.machineBusySeconds),
    /// per container, ms. Optional: results saved before it still render.
    var machineCPUMsPerContainer: Double?
    /// The engines' own CPU time creating and starting the containers (their
    /// threads' CPU clocks), per container, ms.
    var engineCPUMsPerContainer: Double?
    /// The monitors' processes, per container, ms: the process the engine
    /// started (reaped once the monitor was up) and the monitor itself up to
    /// the burst's end (/proc/<pid>/schedstat). nil for runc alone. Unlike
    /// the machine's CPU, none of runc's time is in it, nor the host's.
    var monitorCPUMsPerContainer: Double?

    var perSecond: Double { Double(containers) / seconds }
}

/// An engine asking every container's state once a second.
struct PollResult: Codable {
    var containers: Int
    var seconds: Double
    var calls: Int
    /// Rounds over all containers that finished within the time.
    var rounds: Int
    var roundSeconds: Summary?
    var latencyMs: Summary
    /// CPU time of all monitors during the polling (/proc/<pid>/schedstat).
    var monitorCPUSeconds: Double
    /// CPU time of the programs the engine ran (conmon: `runc state`).
    var runtimeCPUSeconds: Double
}

/// Removing every container as podman's `rm --force` does, until each
/// monitor has exited (MonitoredContainer.remove).
struct TeardownResult: Codable {
    var containers: Int
    var seconds: Double
    var leftovers: Leftovers
}

struct Leftovers: Codable {
    /// Monitors still running, and processes still in the containers' cgroups.
    var processes: [String] = []
    /// Containers runc still knows.
    var runtimeState: [String] = []
    var cgroups: [String] = []
    /// Mounts that were not there before the ramp.
    var mounts: [String] = []
    /// The engine's fds beyond those it had before the ramp.
    var fds = 0
    /// Files the monitors left: an ocishim state directory after Delete,
    /// anything in a bundle beyond its config.json.
    var files: [String] = []

    var isEmpty: Bool {
        processes.isEmpty && runtimeState.isEmpty && cgroups.isEmpty && mounts.isEmpty && fds <= 0 && files.isEmpty
    }

    var kinds: [(String, [String])] {
        [("processes", processes), ("runc state", runtimeState), ("cgroups", cgroups), ("mounts", mounts),
         ("fds", fds > 0 ? ["\(fds) fd(s)"] : []), ("files", files)]
    }
}
