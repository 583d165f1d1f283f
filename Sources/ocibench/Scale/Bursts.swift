import Foundation
import Glibc
import ShimSystem

/// Creation bursts: `burstContainers` containers created by 1, 4, 16
/// engines at once, each engine creating and starting its share one after
/// the other; runc alone, ocishim and conmon interleaved burst by burst. A
/// burst's containers are removed (by as many engines, untimed) before the
/// next one.
extension ScaleBench {
    /// One container of a burst, created and running.
    private enum Created {
        case raw(id: String, pid: pid_t)
        case monitored(MonitoredContainer)
    }

    func measureBursts() throws {
        let count = settings.burstContainers
        let orders = Self.orders(of: ["runc", bench.ocishim.name, bench.conmon.name])
        for run in 1...settings.burstRuns {
            for engines in settings.burstEngines {
                // Each run takes the next order of the three kinds: over six
                // runs each kind comes first, second and last twice, so that
                // neither a load drifting during a run nor what one burst
                // leaves the next favours a kind (ScaleReport pairs each
                // run's bursts).
                for kind in orders[(run - 1) % orders.count] {
                    try Interrupt.check()
                    Self.settle()
                    results.noteLoad("burst \(run), \(engines) engine(s), \(kind)")
                    let burst = try self.burst(kind: kind, engines: engines, count: count)
                    results.bursts.append(burst)
                    progress(String(format: "burst %d/%d: %d containers, %d engine(s), %@: %.1f containers/s, create → running p50 %.1f ms, p99 %.1f ms; CPU per container: machine %.1f ms, engine %.2f ms, monitor %.2f ms",
                                    run, settings.burstRuns, count, engines, kind, burst.perSecond,
                                    burst.createToRunningMs.median, burst.createToRunningMs.p99,
                                    burst.machineCPUMsPerContainer ?? .nan, burst.engineCPUMsPerContainer ?? .nan,
                                    burst.monitorCPUMsPerContainer ?? .nan))
                }
            }
        }
    }

    /// Every order of `kinds`, each followed by its reverse: for three
    /// kinds, (a b c) (c b a) (b c a) (a c b) (c a b) (b a c).
    static func orders(of kinds: [String]) -> [[String]] {
        (0..<kinds.count).flatMap { shift -> [[String]] in
            let rotated = Array(kinds[shift...] + kinds[..<shift])
            return [rotated, rotated.reversed()]
        }
    }

    private func burst(kind: String, engines: Int, count: Int) throws -> BurstRun {
        let specs = try (0..<count).map { _ in try spec("burst") }
        defer { specs.forEach(removeDir) }
        let monitor: (any Monitor)? = kind == bench.ocishim.name ? bench.ocishim : kind == bench.conmon.name ? bench.conmon : nil
        let raw = bench.raw
        let created = Collected<Handed<Created>>()
        let latencies = Collected<Double>()
        let engineCPU = Collected<Double>()
        let failures = Collected<String>()
        let busy0 = ProcFS.machineBusySeconds()
        let t0 = Clock.monotonicNanos()
        Parallel.run(engines) { engine in
            for index in stride(from: engine, to: count, by: engines) {
                if Interrupt.requested || !failures.values.isEmpty { return }
                let spec = specs[index]
                let cpu0 = Self.threadCPUSeconds()
                defer { engineCPU.append(Self.threadCPUSeconds() - cpu0) }
                do {
                    if let monitor {
                        let start = Clock.monotonicNanos()
                        let container = try monitor.create(spec)
                        created.append(Handed(value: .monitored(container)))
                        try container.start()
                        latencies.append(Double(Clock.monotonicNanos() - start) / 1e6)
                        container.disconnect()
                    } else {
                        let (seconds, pid) = try raw.createStart(id: spec.id, bundle: spec.bundle, dir: spec.dir)
                        created.append(Handed(value: .raw(id: spec.id, pid: pid)))
                        latencies.append(seconds * 1e3)
                    }
                } catch {
                    failures.append("\(spec.id): \(error)")
                }
            }
        }
        let seconds = Double(Clock.monotonicNanos() - t0) / 1e9
        let busy = ProcFS.machineBusySeconds().flatMap { end in busy0.map { (end - $0) * 1e3 / Double(count) } }
        let monitorCPU = monitor == nil ? nil : Self.monitorsCPUSeconds(created.values.map(\.value)) * 1e3 / Double(count)
        removeAll(created.values.map(\.value), engines: engines)
        try Interrupt.check()
        if let failure = failures.values.first { throw BenchError("burst of \(kind) with \(engines) engine(s): \(failure)") }
        guard let summary = Summary(latencies.values) else { throw BenchError("burst of \(kind): nothing measured") }
        return BurstRun(kind: kind, engines: engines, containers: count, seconds: seconds, createToRunningMs: summary,
                        machineCPUMsPerContainer: busy, engineCPUMsPerContainer: engineCPU.values.reduce(0, +) * 1e3 / Double(count),
                        monitorCPUMsPerContainer: monitorCPU)
    }

    /// The CPU time of the calling thread (the engine's work, not its children's).
    private static func threadCPUSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// What the monitors of a burst's containers have spent so far: each one's
    /// first process (reaped) and the monitor itself.
    private static func monitorsCPUSeconds(_ containers: [Created]) -> Double {
        containers.reduce(0) { total, created in
            guard case .monitored(let container) = created else { return total }
            return total + container.launcherCPUSeconds + (ProcFS.scheduledSeconds(container.monitorPid) ?? 0)
        }
    }

    /// Waits (at most 10 s) until the machine has been nearly idle for a
    /// quarter of a second. Removing a burst's containers leaves the kernel
    /// work behind (cgroups going offline, freed memory, RCU callbacks) in
    /// its workers: measured without this wait, the machine's CPU per
    /// container of the same kind's bursts ranged from 34 to 70 ms, the
    /// next burst paying for the last one.
    static func settle() {
        let cores = Double(max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let deadline = Clock.monotonicNanos() + 10_000_000_000
        var last = ProcFS.machineBusySeconds()
        while Clock.monotonicNanos() < deadline {
            usleep(250_000)
            let now = ProcFS.machineBusySeconds()
            guard let before = last, let after = now else { return }
            // Busy below 5% of the machine: the bench's own polling and
            // the host's background noise.
            if (after - before) / 0.25 < 0.05 * cores { return }
            last = now
        }
    }

    /// Kills and deletes a burst's containers, `engines` at a time: SIGKILL
    /// and the exit first, then the runtime's delete (`runc delete --force`
    /// of a running container waits 100 ms after its SIGKILL).
    private func removeAll(_ containers: [Created], engines: Int) {
        let raw = bench.raw
        let handed = containers.map { Handed(value: $0) }
        Parallel.run(engines) { engine in
            for index in stride(from: engine, to: handed.count, by: engines) {
                switch handed[index].value {
                case .raw(let id, let pid):
                    raw.remove(id: id, pid: pid)
                case .monitored(let container):
                    do { try container.remove() } catch { container.destroy() }
                }
            }
        }
        Processes.reapExited()
    }
}
