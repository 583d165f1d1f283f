import Foundation
import Glibc
import ShimSystem

/// One monitor's share of the scale section: the host filled with idle
/// containers (`sleep`) step by step up to the largest size, every monitor's
/// memory at each size, then an engine polling all of them, then their
/// teardown and what it left behind.
extension ScaleBench {
    /// A container of the ramp and its directory.
    struct Idle {
        let spec: ContainerSpec
        let container: MonitoredContainer
    }

    func measureDensity(_ monitor: any Monitor) throws {
        let name = monitor.name
        Processes.reapExited()
        results.noteLoad("\(name) idle containers")
        let before = Census(runc: runc, workDir: bench.workDir)
        results.memAvailableBefore[name] = before.memAvailableKB
        var idle: [Idle] = []
        var latencies: [Double] = []
        var tornDown = false
        defer {
            if !tornDown {
                progress("\(name): removing \(idle.count) containers")
                for item in idle {
                    item.container.destroy()
                    removeDir(of: item.spec)
                }
                Processes.reapExited()
            }
        }
        var steps: [DensityStep] = []
        let started = Clock.monotonicNanos()
        for size in results.settings.sizes {
            if let limit = memoryLimit(steps: steps, before: before.memAvailableKB), size > limit {
                results.notes.append("\(name): stopped at \(idle.count) containers: \(size) would leave less than a quarter of the host's memory free")
                break
            }
            while idle.count < size {
                try Interrupt.check()
                let spec = try self.spec(name == bench.ocishim.name ? "dens" : "cdens")
                let t0 = Clock.monotonicNanos()
                let container = try monitor.create(spec)
                idle.append(Idle(spec: spec, container: container))
                try container.start()
                latencies.append(Double(Clock.monotonicNanos() - t0) / 1e6)
                container.disconnect()
                if idle.count % 100 == 0 || idle.count == size {
                    let elapsed = Double(Clock.monotonicNanos() - started) / 1e9
                    progress(String(format: "%@: %d containers running (%.0f s)", name, idle.count, elapsed))
                }
            }
            // The newest monitors settle into their idle loop (and release
            // what start-up needed: 1 s without events).
            usleep(1_500_000)
            let step = try measureMemory(of: idle, containers: size)
            steps.append(step)
            progress(String(format: "%@: %d idle: Private_Dirty %.0f kB, PSS %.0f kB, VmRSS %.0f kB per monitor (median); monitors in all %.1f MB PSS; host MemAvailable %.0f MB (%.0f MB less)",
                            name, size, step.privateDirtyKB.median, step.pssKB.median, step.rssKB.median,
                            step.pssKB.sum / 1024, step.memAvailableKB / 1024, (before.memAvailableKB - step.memAvailableKB) / 1024))
        }
        results.density[name] = steps
        results.ramp[name] = Self.buckets(latencies, of: max(10, (results.settings.sizes.max() ?? 100) / 20))

        results.noteLoad("\(name) polling")
        results.polls[name] = try poll(idle, monitor: name)

        tornDown = true
        results.teardowns[name] = try tearDown(idle, monitor: name, before: before)
        usleep(500_000)
        results.memAvailableAfter[name] = HostCensus.memAvailableKB()
    }

    /// The most containers the host's memory allows, once a step has shown
    /// what each one costs: a quarter of what was available is kept free.
    private func memoryLimit(steps: [DensityStep], before: Double) -> Int? {
        guard let last = steps.last, last.containers > 0 else { return nil }
        let perContainer = max((before - last.memAvailableKB) / Double(last.containers), 1)
        return Int(before * 0.75 / perContainer)
    }

    private func measureMemory(of idle: [Idle], containers: Int) throws -> DensityStep {
        var dirty: [Double] = []
        var pss: [Double] = []
        var rss: [Double] = []
        for item in idle {
            guard let memory = ProcFS.memory(item.container.monitorPid) else {
                throw BenchError("cannot read the memory of the monitor of \(item.spec.id) (pid \(item.container.monitorPid))")
            }
            dirty.append(memory.privateDirtyKB)
            pss.append(memory.pssKB)
            rss.append(memory.rssKB)
        }
        guard let dirtySummary = Summary(dirty), let pssSummary = Summary(pss), let rssSummary = Summary(rss) else {
            throw BenchError("no monitor to measure")
        }
        return DensityStep(containers: containers, privateDirtyKB: dirtySummary, pssKB: pssSummary, rssKB: rssSummary,
                           memAvailableKB: HostCensus.memAvailableKB())
    }

    /// create → running in buckets of `size` consecutive containers.
    static func buckets(_ latencies: [Double], of size: Int) -> [RampBucket] {
        stride(from: 0, to: latencies.count, by: size).compactMap { from in
            let to = min(from + size, latencies.count)
            return Summary(Array(latencies[from..<to])).map { RampBucket(from: from, to: to, createToRunningMs: $0) }
        }
    }

    // --- polling -----------------------------------------------------------------------

    /// The engine asks every container's state once a second for
    /// `pollSeconds`: ocishim's State over a connection per shim (made
    /// before, untimed), `runc state` with conmon. A round that does not
    /// finish within its second delays the next; calls stop when the time
    /// is up. CPU: every monitor's own (schedstat), and that of the programs
    /// the engine ran (reaped children of the bench: utime + stime).
    private func poll(_ idle: [Idle], monitor: String) throws -> PollResult {
        progress("\(monitor): polling State on \(idle.count) containers every second for \(settings.pollSeconds) s")
        for item in idle { try item.container.connect() }
        let pids = idle.map(\.container.monitorPid)
        let cpuBefore = pids.reduce(0) { $0 + (ProcFS.scheduledSeconds($1) ?? 0) }
        let childrenBefore = Self.childrenCPUSeconds()
        var latencies: [Double] = []
        var roundSeconds: [Double] = []
        let window = Int64(settings.pollSeconds) * 1_000_000_000
        let t0 = Clock.monotonicNanos()
        var round: Int64 = 0
        polling: while Clock.monotonicNanos() - t0 < window {
            let due = t0 + round * 1_000_000_000
            let now = Clock.monotonicNanos()
            if due > now { usleep(UInt32((due - now) / 1000)) }
            let roundStart = Clock.monotonicNanos()
            for item in idle {
                try Interrupt.check()
                let start = Clock.monotonicNanos()
                if start - t0 >= window { break polling }
                try item.container.queryState(refresh: false)
                latencies.append(Double(Clock.monotonicNanos() - start) / 1e6)
            }
            roundSeconds.append(Double(Clock.monotonicNanos() - roundStart) / 1e9)
            round += 1
        }
        let seconds = Double(Clock.monotonicNanos() - t0) / 1e9
        let cpuAfter = pids.reduce(0) { $0 + (ProcFS.scheduledSeconds($1) ?? 0) }
        guard let latency = Summary(latencies) else { throw BenchError("\(monitor): no State call answered") }
        let result = PollResult(containers: idle.count, seconds: seconds, calls: latencies.count, rounds: roundSeconds.count,
                                roundSeconds: Summary(roundSeconds), latencyMs: latency,
                                monitorCPUSeconds: cpuAfter - cpuBefore,
                                runtimeCPUSeconds: Self.childrenCPUSeconds() - childrenBefore)
        progress(String(format: "%@: %d State calls in %.1f s (%d full rounds): p50 %.3f ms, p99 %.3f ms; monitors' CPU %.2f s, runtime's %.2f s",
                        monitor, result.calls, seconds, result.rounds, latency.median, latency.p99,
                        result.monitorCPUSeconds, result.runtimeCPUSeconds))
        return result
    }

    /// CPU time of the bench's reaped children (runc calls).
    private static func childrenCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage)
        return usage.cpuSeconds
    }

    // --- teardown ------------------------------------------------------------------------

    /// Removes every container as an engine does, one after the other, then
    /// counts what is left: processes, runc state, cgroups, mounts, the
    /// engine's fds, files. Then removes the containers' directories.
    private func tearDown(_ idle: [Idle], monitor: String, before: Census) throws -> TeardownResult {
        progress("\(monitor): removing \(idle.count) containers")
        let t0 = Clock.monotonicNanos()
        var failures: [String] = []
        for (index, item) in idle.enumerated() {
            do {
                try item.container.remove()
            } catch {
                failures.append("\(item.spec.id): \(error)")
                item.container.destroy()
            }
            if (index + 1) % 250 == 0 { progress("\(monitor): \(index + 1) removed") }
        }
        let seconds = Double(Clock.monotonicNanos() - t0) / 1e9
        Processes.reapExited()
        var left = Census(runc: runc, workDir: bench.workDir).left(since: before, ids: Set(idle.map(\.spec.id)))
        left.files = idle.flatMap { filesLeft(by: $0.spec) }
        for item in idle { removeDir(of: item.spec) }
        progress(String(format: "%@: %d removed in %.1f s; left behind: %@", monitor, idle.count, seconds,
                        left.isEmpty ? "nothing" : left.kinds.filter { !$0.1.isEmpty }.map { "\($0.1.count) \($0.0)" }.joined(separator: ", ")))
        if let failure = failures.first {
            results.notes.append("\(monitor) teardown: \(failures.count) removal(s) failed, the first: \(failure)")
        }
        return TeardownResult(containers: idle.count, seconds: seconds, leftovers: left)
    }
}

/// What the host held before a ramp, to tell what its teardown left.
struct Census {
    let runc: String
    let workDir: String
    let memAvailableKB: Double
    let fds: Int
    let mounts: Set<String>

    init(runc: String, workDir: String) {
        self.runc = runc
        self.workDir = workDir
        memAvailableKB = HostCensus.memAvailableKB()
        fds = HostCensus.openFDs()
        mounts = Set(HostCensus.mounts())
    }

    /// What is there now and was not before, of the containers `ids` (other
    /// sessions on the host are not counted).
    func left(since before: Census, ids: Set<String>) -> Leftovers {
        var left = Leftovers()
        let monitors = ProcFS.pids(mentioning: workDir + "/scale/").filter { $0 != getpid() }
        let inCgroups = HostCensus.processes(inCgroupsOf: ids)
        left.processes = Set(monitors + inCgroups).sorted().map { pid in
            "\(pid) \(ProcFS.commandLine(pid)?.prefix(120) ?? "?")"
        }
        left.runtimeState = HostCensus.runtimeContainers(runc: runc).filter { ids.contains($0) }
        left.cgroups = HostCensus.cgroups(of: ids)
        left.mounts = mounts.subtracting(before.mounts).filter { line in
            line.contains(workDir) || ids.contains { line.contains($0) }
        }.sorted()
        left.fds = fds - before.fds
        return left
    }
}
