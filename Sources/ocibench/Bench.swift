import Foundation
import Glibc
import ShimSystem

/// Runs every measurement, ocishim and conmon interleaved run by run (so
/// that a noisy moment of the machine hits both), and collects the samples.
final class Bench {
    let settings: Settings
    let workDir: String
    let bundles: Bundles
    let ocishim: OcishimMonitor
    let conmon: ConmonMonitor
    let raw: RawRunc
    private var counter = 0

    /// The samples so far.
    private(set) var results: Results

    init(settings: Settings, workDir: String, makeBundle: String, shim: String, conmon: String, runc: String) throws {
        self.settings = settings
        self.workDir = workDir
        try FileManager.default.createDirectory(atPath: workDir + "/containers", withIntermediateDirectories: true)
        bundles = try Bundles(dir: workDir + "/bundles", makeBundle: makeBundle)
        try bundles.writeData(bytes: settings.dataFileBytes)
        ocishim = OcishimMonitor(shim: shim, runc: runc)
        self.conmon = ConmonMonitor(conmon: conmon, runc: runc)
        raw = RawRunc(runc: runc)
        results = Results(settings: settings)
    }

    var monitors: [any Monitor] { [ocishim, conmon] }

    func median(_ figure: Figure, _ monitor: String) -> Double? { results.median(figure, monitor) }
    func medianBaseline(_ baseline: Baseline) -> Double? { results.median(baseline) }

    private func record(_ figure: Figure, _ monitor: String, _ value: Double) {
        results.record(figure, monitor, value)
    }

    private func record(_ baseline: Baseline, _ value: Double) {
        results.record(baseline, value)
    }

    private func progress(_ text: String) {
        FileHandle.standardError.write(Data("ocibench: \(text)\n".utf8))
    }

    /// A fresh container id and a directory for its monitor's files.
    private func spec(_ bundle: String, _ tag: String) throws -> ContainerSpec {
        counter += 1
        let id = "ocibench-\(getpid())-\(tag)-\(counter)"
        let dir = "\(workDir)/containers/\(id)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return ContainerSpec(id: id, bundle: bundle, logPath: dir + "/ctr.log", dir: dir)
    }

    private func removeDir(of spec: ContainerSpec) {
        try? FileManager.default.removeItem(atPath: spec.dir)
        Processes.reapExited()
    }

    // --- latency ------------------------------------------------------------------

    /// create → running and start → exit recorded for /bin/true, under each
    /// monitor and under runc alone.
    ///
    /// The overheads over runc alone are paired: each run times runc alone
    /// and then each monitor, and the figure is the median of the runs'
    /// differences, not the difference of two medians. The machine's load
    /// drifts over the minute the runs take by more than a monitor costs
    /// (in one full run the quartiles of runc alone lay 17 ms apart); a
    /// run's own runc baseline, taken a moment before, cancels that drift.
    /// Which monitor goes first alternates run by run, so that neither
    /// always follows runc alone.
    func measureLatency() throws {
        progress("latency: \(settings.latencyRuns) runs of /bin/true")
        let bundle = try bundles.make("true", args: ["/bin/true"])
        var createOverheads: [String: [Double]] = [:]
        var exitOverheads: [String: [Double]] = [:]
        for run in 0..<settings.latencyRuns {
            let rawTiming: (createToRunning: Double, startToExit: Double)
            do {
                let rawSpec = try spec(bundle, "raw")
                let timing = try raw.createStartWait(id: rawSpec.id, bundle: bundle, dir: rawSpec.dir)
                rawTiming = (timing.createToRunning * 1e3, timing.startToExit * 1e3)
                record(.rawCreateToRunning, rawTiming.createToRunning)
                record(.rawStartToExit, rawTiming.startToExit)
                removeDir(of: rawSpec)
                let runSpec = try spec(bundle, "run")
                record(.runcRun, try raw.run(id: runSpec.id, bundle: bundle) * 1e3)
                removeDir(of: runSpec)
            }
            for monitor in run % 2 == 0 ? monitors : monitors.reversed() {
                let spec = try spec(bundle, "lat")
                let t0 = Clock.monotonicNanos()
                let container = try monitor.create(spec)
                defer {
                    container.destroy()
                    removeDir(of: spec)
                }
                let t1 = Clock.monotonicNanos()
                try container.start()
                let t2 = Clock.monotonicNanos()
                try container.waitExitRecorded()
                let t3 = Clock.monotonicNanos()
                let created = Double(t2 - t0) / 1e6, exited = Double(t3 - t1) / 1e6
                record(.createToRunning, monitor.name, created)
                record(.startToExit, monitor.name, exited)
                createOverheads[monitor.name, default: []].append(created - rawTiming.createToRunning)
                exitOverheads[monitor.name, default: []].append(exited - rawTiming.startToExit)
            }
        }
        for monitor in monitors {
            if let created = Stats.median(createOverheads[monitor.name] ?? []) { record(.createOverhead, monitor.name, created) }
            if let exited = Stats.median(exitOverheads[monitor.name] ?? []) { record(.startOverhead, monitor.name, exited) }
        }
    }

    // --- log throughput -------------------------------------------------------------

    /// MB/s and the monitor's own CPU time while a container prints
    /// `logBytes`, as 100-byte lines and without newlines. The time runs from
    /// start to exit recorded, less the same monitor's start → exit time for
    /// /bin/true (measureLatency runs first), so that container start-up
    /// does not count as logging time. Every run's log is read back and must
    /// hold exactly the bytes printed; with lines, its P records per line
    /// are the lines split into more than one record.
    func measureThroughput() throws {
        let megabytes = Double(settings.logBytes) / 1e6
        progress("log throughput: \(settings.runs) runs of \(Int(megabytes)) MB, lines and no newlines")
        let kinds: [(Figure, Figure, String)] = [
            (.throughputLines, .cpuLines, Bundles.linesFile), (.throughputBlob, .cpuBlob, Bundles.blobFile),
        ]
        for (throughputFigure, cpuFigure, file) in kinds {
            let bundle = try bundles.make("cat", args: settings.catArgs(file))
            let expected = settings.dataFileBytes * max(1, settings.logBytes / settings.dataFileBytes)
            for _ in 0..<settings.runs {
                for monitor in monitors {
                    let spec = try spec(bundle, "log")
                    let container = try monitor.create(spec)
                    defer {
                        container.destroy()
                        removeDir(of: spec)
                    }
                    let pid = container.monitorPid
                    let cpu0 = ProcFS.cpuSeconds(pid) ?? 0
                    let t0 = Clock.monotonicNanos()
                    try container.start()
                    try container.waitExitRecorded()
                    let t1 = Clock.monotonicNanos()
                    // conmon exits after recording: its times stay readable
                    // while it is an unreaped zombie of the bench.
                    if monitor.name == conmon.name { _ = Processes.waitForExitKeepingZombie(pid, seconds: 30) }
                    let cpu1 = ProcFS.cpuSeconds(pid) ?? cpu0
                    let content = try LogCheck.content(of: spec.logPath)
                    guard content.bytes == expected else {
                        throw BenchError("\(monitor.name): the log holds \(content.bytes) bytes of output, the container printed \(expected)")
                    }
                    let startup = settings.subtractStartup ? median(.startToExit, monitor.name) ?? 0 : 0
                    let seconds = max(Double(t1 - t0) / 1e9 - startup / 1e3, 1e-6)
                    record(throughputFigure, monitor.name, Double(expected) / 1e6 / seconds)
                    record(cpuFigure, monitor.name, (cpu1 - cpu0) / (Double(expected) / 1e8))
                    if throughputFigure == .throughputLines {
                        // Every F record ends one of the lines.
                        let lines = content.records - content.partialRecords
                        record(.partialLines, monitor.name, Double(content.partialRecords) / Double(max(lines, 1)) * 1e6)
                    }
                }
            }
        }
    }

    /// What holding an unfinished line costs the log's reader: a container
    /// prints a line, then a prompt without a newline, and waits. The delay
    /// is from the line showing in the log to the prompt showing, both seen
    /// by polling the file every 0.5 ms (ocishim holds the prompt until its
    /// deadline; conmon writes whatever it read at once).
    func measurePromptDelay() throws {
        progress("prompt → log: \(settings.runs) runs")
        let bundle = try bundles.make("prompt", args: ["/bin/sh", "-c", "echo ready; printf 'prompt> '; exec sleep 1000"])
        for _ in 0..<settings.runs {
            for monitor in monitors {
                let spec = try spec(bundle, "prompt")
                let container = try monitor.create(spec)
                defer {
                    container.destroy()
                    removeDir(of: spec)
                }
                try container.start()
                let line = try waitForLog(spec.logPath, containing: " F ready\n", monitor: monitor.name)
                let prompt = try waitForLog(spec.logPath, containing: " P prompt> \n", monitor: monitor.name)
                record(.promptDelay, monitor.name, Double(prompt - line) / 1e6)
            }
        }
    }

    /// The monotonic time at which the log was first seen holding `text`.
    private func waitForLog(_ path: String, containing text: String, monitor: String) throws -> Int64 {
        let wanted = Data(text.utf8)
        let deadline = Clock.monotonicNanos() + 10_000_000_000
        while Clock.monotonicNanos() < deadline {
            if let data = FileManager.default.contents(atPath: path), data.range(of: wanted) != nil {
                return Clock.monotonicNanos()
            }
            usleep(500)
        }
        throw BenchError("\(monitor): \(text.debugDescription) did not reach the log within 10 s")
    }

    // --- memory ---------------------------------------------------------------------

    /// VmRSS, PSS and Private_Dirty of each monitor with `idleContainers`
    /// containers running `sleep` under it at once, the engine disconnected.
    func measureMemory() throws {
        let count = settings.idleContainers
        progress("memory: \(count) idle containers per monitor")
        let bundle = try bundles.make("sleep", args: ["/bin/sleep", "1000000"])
        for monitor in monitors {
            var running: [(MonitoredContainer, ContainerSpec)] = []
            defer {
                for (container, spec) in running {
                    container.destroy()
                    removeDir(of: spec)
                }
            }
            for _ in 0..<count {
                let spec = try spec(bundle, "idle")
                let container = try monitor.create(spec)
                running.append((container, spec))
                try container.start()
                container.disconnect()
            }
            // Let every monitor settle into its idle loop.
            usleep(1_500_000)
            for (container, _) in running {
                guard let memory = ProcFS.memory(container.monitorPid) else {
                    throw BenchError("cannot read the memory of \(monitor.name) pid \(container.monitorPid)")
                }
                record(.rss, monitor.name, memory.rssKB)
                record(.pss, monitor.name, memory.pssKB)
                record(.privateDirty, monitor.name, memory.privateDirtyKB)
            }
        }
    }

    // --- rpc and exec -----------------------------------------------------------------

    /// State round trips on a running container: ocishim's State rpc
    /// (answered by the shim, and with refresh, which runs `runc state`),
    /// and what an engine does with conmon: `runc state`. Then exec.
    func measureRPCAndExec() throws {
        progress("rpc: \(settings.stateCalls) State calls, \(settings.runtimeStateCalls) runtime state calls; exec")
        let bundle = try bundles.make("sleep", args: ["/bin/sleep", "1000000"])
        let shimSpec = try spec(bundle, "rpc")
        guard let shimContainer = try ocishim.create(shimSpec) as? OcishimContainer else { return }
        defer {
            shimContainer.destroy()
            removeDir(of: shimSpec)
        }
        try shimContainer.start()
        let conmonSpec = try spec(bundle, "rpc")
        let conmonContainer = try conmon.create(conmonSpec)
        defer {
            conmonContainer.destroy()
            removeDir(of: conmonSpec)
        }
        try conmonContainer.start()

        for _ in 0..<20 { try shimContainer.queryState(refresh: false) }
        var answered: [Double] = []
        for _ in 0..<settings.stateCalls {
            let t0 = Clock.monotonicNanos()
            try shimContainer.queryState(refresh: false)
            answered.append(Double(Clock.monotonicNanos() - t0) / 1e6)
        }
        var refreshed: [Double] = []
        var runcState: [Double] = []
        for _ in 0..<settings.runtimeStateCalls {
            let t0 = Clock.monotonicNanos()
            try shimContainer.queryState(refresh: true)
            refreshed.append(Double(Clock.monotonicNanos() - t0) / 1e6)
            let t1 = Clock.monotonicNanos()
            try conmonContainer.queryState(refresh: true)
            runcState.append(Double(Clock.monotonicNanos() - t1) / 1e6)
        }
        for (figure, p) in [(Figure.stateP50, 50.0), (.stateP99, 99)] {
            record(figure, ocishim.name, Stats.percentile(answered, p)!)
            record(figure, conmon.name, Stats.percentile(runcState, p)!)
        }
        for (figure, p) in [(Figure.refreshP50, 50.0), (.refreshP99, 99)] {
            record(figure, ocishim.name, Stats.percentile(refreshed, p)!)
            record(figure, conmon.name, Stats.percentile(runcState, p)!)
        }

        // Exec: ExecSync of /bin/true against `runc exec` of it.
        var overheads: [Double] = []
        for _ in 0..<settings.latencyRuns {
            let runcExec = try raw.exec(id: conmonSpec.id, ["/bin/true"]) * 1e3
            record(.runcExec, runcExec)
            let t0 = Clock.monotonicNanos()
            try shimContainer.execSync(["/bin/true"])
            let exec = Double(Clock.monotonicNanos() - t0) / 1e6
            record(.exec, ocishim.name, exec)
            overheads.append(exec - runcExec)
        }
        // Paired run by run, as the latency overheads (measureLatency).
        if let runcExec = medianBaseline(.runcExec) { record(.exec, conmon.name, runcExec) }
        if let overhead = Stats.median(overheads) { record(.execOverhead, ocishim.name, overhead) }
    }

    // --- containerd's shims ---------------------------------------------------------------

    /// The same idle memory figures for containerd's runc shim and for
    /// containerd-shim-ocishim-v1 (`ocishimV1`, the binary; nil: not
    /// measured), where containerd and ctr are installed: a private
    /// containerd each (own root, state and socket under the work
    /// directory), `ctr run --rootfs` of the same busybox rootfs.
    func measureContainerdShims(containerd: String?, ctr: String?, ocishimV1: String?) {
        guard let containerd, let ctr else {
            results.baselineNotes[Baseline.containerdRSS.rawValue] = "not measured: containerd and ctr are not installed (apt-get install containerd)"
            return
        }
        let runcV2 = ContainerdShimProbe(containerd: containerd, ctr: ctr, dir: workDir + "/containerd", rootfs: bundles.rootfs)
        measure(runcV2, name: "containerd-shim-runc-v2", as: (.containerdRSS, .containerdPSS, .containerdPrivateDirty))
        guard let ocishimV1 else {
            results.baselineNotes[Baseline.ocishimV1RSS.rawValue] = "not measured: no containerd-shim-ocishim-v1 next to the shim (--containerd-shim)"
            return
        }
        var probe = ContainerdShimProbe(containerd: containerd, ctr: ctr, dir: workDir + "/containerd-ocishim", rootfs: bundles.rootfs)
        probe.runtime = "io.containerd.ocishim.v1"
        probe.shimDirectory = FileSystem.dirname(of: ocishimV1)
        measure(probe, name: "containerd-shim-ocishim-v1", as: (.ocishimV1RSS, .ocishimV1PSS, .ocishimV1PrivateDirty))
    }

    private func measure(_ probe: ContainerdShimProbe, name: String, as figures: (rss: Baseline, pss: Baseline, dirty: Baseline)) {
        progress("\(name): \(settings.idleContainers) idle containers")
        do {
            try probe.measure(count: settings.idleContainers) { memory in
                self.record(figures.rss, memory.rssKB)
                self.record(figures.pss, memory.pssKB)
                self.record(figures.dirty, memory.privateDirtyKB)
            }
        } catch {
            results.baselineNotes[figures.rss.rawValue] = "not measured: \(error)"
        }
        Processes.reapExited()
    }
}
