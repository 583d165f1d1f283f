/// The figures the bench reports, each measured for ocishim and for its
/// counterpart (conmon, or the runtime call an engine makes without a shim).
enum Figure: String, CaseIterable {
    case throughputLines, throughputBlob, cpuLines, cpuBlob, partialLines, promptDelay
    case createToRunning, startToExit, createOverhead, startOverhead
    case rss, pss, privateDirty
    case stateP50, stateP99, refreshP50, refreshP99
    case exec, execOverhead

    var title: String {
        switch self {
        case .throughputLines: "log throughput, 100-byte lines"
        case .throughputBlob: "log throughput, no newlines"
        case .cpuLines: "monitor CPU per 100 MB, lines"
        case .cpuBlob: "monitor CPU per 100 MB, no newlines"
        case .partialLines: "P records per million lines, 100-byte lines"
        case .promptDelay: "a prompt without newline → log"
        case .createToRunning: "create → running, /bin/true"
        case .startToExit: "start → exit recorded, /bin/true"
        case .createOverhead: "create → running, over raw runc"
        case .startOverhead: "start → exit recorded, over raw runc"
        case .rss: "VmRSS per idle monitor"
        case .pss: "PSS per idle monitor"
        case .privateDirty: "Private_Dirty per idle monitor"
        case .stateP50: "State p50 (conmon: `runc state`)"
        case .stateP99: "State p99 (conmon: `runc state`)"
        case .refreshP50: "State refresh p50 (conmon: `runc state`)"
        case .refreshP99: "State refresh p99 (conmon: `runc state`)"
        case .exec: "exec /bin/true (ExecSync; raw `runc exec`)"
        case .execOverhead: "exec, over raw `runc exec`"
        }
    }

    var unit: String {
        switch self {
        case .throughputLines, .throughputBlob: "MB/s"
        case .cpuLines, .cpuBlob: "s"
        case .partialLines: "per 10⁶"
        case .rss, .pss, .privateDirty: "kB"
        default: "ms"
        }
    }

    /// Whether ocishim / conmon means something: not for the prompt's
    /// delay, which is conmon's read-to-write time against ocishim's hold
    /// deadline.
    var hasRatio: Bool { self != .promptDelay }

    /// Digits after the point in the tables.
    var precision: Int {
        switch self {
        case .throughputLines, .throughputBlob, .partialLines, .rss, .pss, .privateDirty: 0
        case .cpuLines, .cpuBlob: 3
        case .stateP50, .stateP99: 3
        default: 1
        }
    }

    enum Target {
        case none
        /// ocishim / counterpart must be at least this.
        case ratioAtLeast(Double)
        /// ocishim / counterpart must be at most this.
        case ratioAtMost(Double)
        /// ocishim's value must be at most this (in the figure's unit).
        case atMost(Double)
        /// An overhead over the same run's baseline: ocishim's must be at
        /// most conmon's, run by run (`pairedSamples`).
        case atMostCounterpartsRunByRun
    }

    /// For an overhead over a baseline measured once per run, the figure
    /// whose samples it was taken from: ocishim's overhead less conmon's in
    /// one run is that figure's ocishim sample less its conmon sample (the
    /// baseline cancels).
    var pairedSamples: Figure? {
        switch self {
        case .createOverhead: .createToRunning
        case .startOverhead: .startToExit
        default: nil
        }
    }

    var target: Target {
        switch self {
        case .throughputLines, .throughputBlob: .ratioAtLeast(2)
        case .cpuLines, .cpuBlob: .ratioAtMost(0.5)
        case .createOverhead, .startOverhead: .atMostCounterpartsRunByRun
        case .privateDirty: .ratioAtMost(0.75)
        case .pss: .ratioAtMost(1)
        case .stateP99: .atMost(1)
        case .partialLines: .atMost(0)
        default: .none
        }
    }

    var section: String {
        switch self {
        case .throughputLines, .throughputBlob, .cpuLines, .cpuBlob, .partialLines, .promptDelay: "log"
        case .createToRunning, .startToExit, .createOverhead, .startOverhead: "latency"
        case .rss, .pss, .privateDirty: "memory"
        case .stateP50, .stateP99, .refreshP50, .refreshP99: "rpc"
        case .exec, .execOverhead: "exec"
        }
    }
}

/// Runtime-only baselines, for the overheads.
enum Baseline: String, CaseIterable {
    case rawCreateToRunning, rawStartToExit, runcRun, runcExec
    case containerdRSS, containerdPSS, containerdPrivateDirty
    /// containerd-shim-ocishim-v1 through the same private containerd, in
    /// the same run: what runc.v2's figures compare with.
    case ocishimV1RSS, ocishimV1PSS, ocishimV1PrivateDirty

    var title: String {
        switch self {
        case .rawCreateToRunning: "raw `runc create` + `runc start`, /bin/true"
        case .rawStartToExit: "raw `runc start` → exit reaped, /bin/true"
        case .runcRun: "raw `runc run`, /bin/true (create, start, wait, delete)"
        case .runcExec: "raw `runc exec` /bin/true"
        case .containerdRSS: "containerd-shim-runc-v2 VmRSS per idle shim"
        case .containerdPSS: "containerd-shim-runc-v2 PSS per idle shim"
        case .containerdPrivateDirty: "containerd-shim-runc-v2 Private_Dirty per idle shim"
        case .ocishimV1RSS: "containerd-shim-ocishim-v1 VmRSS per idle shim"
        case .ocishimV1PSS: "containerd-shim-ocishim-v1 PSS per idle shim"
        case .ocishimV1PrivateDirty: "containerd-shim-ocishim-v1 Private_Dirty per idle shim"
        }
    }

    var unit: String {
        switch self {
        case .containerdRSS, .containerdPSS, .containerdPrivateDirty,
             .ocishimV1RSS, .ocishimV1PSS, .ocishimV1PrivateDirty: "kB"
        default: "ms"
        }
    }
}
