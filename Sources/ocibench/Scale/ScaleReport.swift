import Foundation

/// The scale section's tables and targets, for the terminal and for
/// docs/BENCHMARKS.md.
struct ScaleReport {
    let scale: ScaleResults
    static let shim = Report.shim
    static let counterpart = Report.counterpart
    static let runtime = "runc"

    /// Private_Dirty per monitor against conmon's, at every size.
    static let privateDirtyGoal = 0.75
    /// PSS per monitor against conmon's, at every size.
    static let pssGoal = 1.0
    /// A monitor's figures at the largest size against those at the first.
    static let flatGoal = 1.10

    struct Target {
        var title: String
        var value: String
        var goal: String
        /// nil: not measured.
        var met: Bool?

        var verdict: String {
            guard let met else { return "not measured" }
            return met ? "met (\(goal))" : "MISSED (\(goal))"
        }
    }

    // --- the figures -------------------------------------------------------------------

    func steps(_ monitor: String) -> [DensityStep] { scale.density[monitor] ?? [] }

    func step(_ monitor: String, _ containers: Int) -> DensityStep? {
        steps(monitor).first { $0.containers == containers }
    }

    /// The sizes both monitors reached.
    var sizes: [Int] {
        steps(Self.shim).map(\.containers).filter { step(Self.counterpart, $0) != nil }
    }

    /// The bursts of one kind and engine count, in run order.
    func bursts(_ kind: String, engines: Int) -> [BurstRun] {
        scale.bursts.filter { $0.kind == kind && $0.engines == engines }
    }

    /// The median over the bursts' runs of their median create → running.
    func burstMedian(_ kind: String, engines: Int) -> Double? {
        Stats.median(bursts(kind, engines: engines).map(\.createToRunningMs.median))
    }

    func burstP99(_ kind: String, engines: Int) -> Double? {
        Stats.median(bursts(kind, engines: engines).map(\.createToRunningMs.p99))
    }

    func burstRate(_ kind: String, engines: Int) -> Double? {
        Stats.median(bursts(kind, engines: engines).map(\.perSecond))
    }

    /// create → running over runc alone, per engine count: the median over
    /// the runs of each run's difference between its burst of `kind` and its
    /// burst of runc alone (the n-th bursts of a kind and engine count belong
    /// to run n), so that a load drifting from run to run cancels out.
    func overhead(_ kind: String, engines: Int) -> Double? {
        paired(kind, engines: engines) { $0.createToRunningMs.median }
    }

    /// The median over the runs of `figure` of each run's burst of `kind`
    /// minus that of its burst of runc alone.
    private func paired(_ kind: String, engines: Int, _ figure: (BurstRun) -> Double?) -> Double? {
        let monitored = bursts(kind, engines: engines), raw = bursts(Self.runtime, engines: engines)
        return Stats.median(zip(monitored, raw).compactMap { ours, runc in
            figure(ours).flatMap { value in figure(runc).map { value - $0 } }
        })
    }

    /// ocishim's create → running over runc alone minus conmon's, run by run
    /// (runc alone's burst cancels: it is ocishim's burst minus conmon's of
    /// the same run), the median over the runs: what the latency target
    /// compares. Two medians of the overheads compared with each other would
    /// pair neither monitor with the other, and a host that slows down for
    /// a run moves both.
    func shimOverConmon(engines: Int) -> Double? {
        Stats.runByRunDifference(bursts(Self.shim, engines: engines).map(\.createToRunningMs.median),
                                 bursts(Self.counterpart, engines: engines).map(\.createToRunningMs.median))
    }

    /// The machine's CPU per container of a kind's bursts (median over the
    /// runs), and over runc alone paired run by run as `overhead` does.
    func burstCPU(_ kind: String, engines: Int) -> Double? {
        Stats.median(bursts(kind, engines: engines).compactMap(\.machineCPUMsPerContainer))
    }

    func cpuOverhead(_ kind: String, engines: Int) -> Double? {
        paired(kind, engines: engines) { $0.machineCPUMsPerContainer }
    }

    /// The engines' CPU per container, and the monitors' processes' (medians over the runs).
    func engineCPU(_ kind: String, engines: Int) -> Double? {
        Stats.median(bursts(kind, engines: engines).compactMap(\.engineCPUMsPerContainer))
    }

    func monitorCPU(_ kind: String, engines: Int) -> Double? {
        Stats.median(bursts(kind, engines: engines).compactMap(\.monitorCPUMsPerContainer))
    }

    /// What a monitor costs per container in CPU, free of runc's and the
    /// host's share: its processes plus the engine's work over what the
    /// engine spends driving runc alone, paired run by run.
    func monitorCost(_ kind: String, engines: Int) -> Double? {
        paired(kind, engines: engines) { burst in
            burst.engineCPUMsPerContainer.map { $0 + (burst.monitorCPUMsPerContainer ?? 0) }
        }
    }

    var engineCounts: [Int] { Array(Set(scale.bursts.map(\.engines))).sorted() }

    // --- the targets -------------------------------------------------------------------

    var targets: [Target] {
        var out: [Target] = []
        let ratios = { (figure: KeyPath<DensityStep, Summary>) -> [Double] in
            sizes.compactMap { size in
                guard let ours = step(Self.shim, size)?[keyPath: figure].median,
                      let theirs = step(Self.counterpart, size)?[keyPath: figure].median, theirs > 0 else { return nil }
                return ours / theirs
            }
        }
        for (title, figure, goal) in [("Private_Dirty per idle monitor, at every size", \DensityStep.privateDirtyKB, Self.privateDirtyGoal),
                                      ("PSS per idle monitor, at every size", \DensityStep.pssKB, Self.pssGoal)] {
            let values = ratios(figure)
            out.append(Target(title: title, value: Self.range(values), goal: "≤ \(Self.fmt(goal))× conmon's",
                              met: values.isEmpty ? nil : values.allSatisfy { $0 <= goal }))
        }
        if let first = steps(Self.shim).first, let last = steps(Self.shim).last, last.containers > first.containers {
            for (name, figure) in [("Private_Dirty", \DensityStep.privateDirtyKB), ("PSS", \DensityStep.pssKB), ("VmRSS", \DensityStep.rssKB)] {
                let ratio = last[keyPath: figure].median / max(first[keyPath: figure].median, 1)
                out.append(Target(title: "ocishim \(name) per monitor, \(last.containers) against \(first.containers) containers",
                                  value: Self.fmt(ratio) + "×", goal: "≤ \(Self.fmt(Self.flatGoal))×", met: ratio <= Self.flatGoal))
            }
        }
        for engines in engineCounts {
            let ours = overhead(Self.shim, engines: engines)
            let theirs = overhead(Self.counterpart, engines: engines)
            let difference = shimOverConmon(engines: engines)
            let value = "\(difference.map { Self.fmt($0, digits: 1) } ?? "—") ms (over runc alone: "
                + "\(ours.map { Self.fmt($0, digits: 1) } ?? "—") against \(theirs.map { Self.fmt($0, digits: 1) } ?? "—") ms)"
            out.append(Target(title: "create → running over runc alone, \(engines) engine(s) (p50): ocishim's less conmon's, run by run", value: value,
                              goal: "≤ 0", met: difference.map { $0 <= 0 }))
        }
        for engines in engineCounts {
            let ours = monitorCost(Self.shim, engines: engines)
            let theirs = monitorCost(Self.counterpart, engines: engines)
            guard ours != nil || theirs != nil else { continue }
            let value = "\(ours.map { Self.fmt($0, digits: 2) } ?? "—") ms against \(theirs.map { Self.fmt($0, digits: 2) } ?? "—") ms"
            out.append(Target(title: "monitor's CPU per container in the bursts, \(engines) engine(s)", value: value,
                              goal: "≤ conmon's", met: ours.flatMap { o in theirs.map { o <= $0 } }))
        }
        if let teardown = scale.teardowns[Self.shim] {
            let left = teardown.leftovers.kinds.filter { !$0.1.isEmpty }.map { "\($0.1.count) \($0.0)" }
            out.append(Target(title: "left behind after removing \(teardown.containers) ocishim containers",
                              value: left.isEmpty ? "nothing" : left.joined(separator: ", "), goal: "nothing", met: left.isEmpty))
        }
        return out
    }

    // --- the terminal ------------------------------------------------------------------

    var table: String {
        var lines: [[String]] = [["scale", "ocishim", "conmon", "target"]]
        for size in sizes {
            guard let ours = step(Self.shim, size), let theirs = step(Self.counterpart, size) else { continue }
            lines.append(["Private_Dirty / PSS / VmRSS per monitor, \(size) idle (kB)",
                          "\(Self.fmt(ours.privateDirtyKB.median, digits: 0)) / \(Self.fmt(ours.pssKB.median, digits: 0)) / \(Self.fmt(ours.rssKB.median, digits: 0))",
                          "\(Self.fmt(theirs.privateDirtyKB.median, digits: 0)) / \(Self.fmt(theirs.pssKB.median, digits: 0)) / \(Self.fmt(theirs.rssKB.median, digits: 0))", ""])
        }
        for engines in engineCounts {
            let cell = { (kind: String) in
                "\(self.burstRate(kind, engines: engines).map { Self.fmt($0, digits: 1) } ?? "—")/s, p50 \(self.burstMedian(kind, engines: engines).map { Self.fmt($0, digits: 1) } ?? "—") ms, CPU \(self.burstCPU(kind, engines: engines).map { Self.fmt($0, digits: 1) } ?? "—") ms"
            }
            lines.append(["burst of \(scale.settings.burstContainers), \(engines) engine(s) (runc: \(cell(Self.runtime)))",
                          cell(Self.shim), cell(Self.counterpart), ""])
            let whose = { (kind: String) in
                "engine \(self.engineCPU(kind, engines: engines).map { Self.fmt($0, digits: 2) } ?? "—") ms, monitor \(self.monitorCPU(kind, engines: engines).map { Self.fmt($0, digits: 2) } ?? "—") ms"
            }
            lines.append(["  CPU per container, \(engines) engine(s) (runc alone: \(whose(Self.runtime)))",
                          whose(Self.shim), whose(Self.counterpart), ""])
        }
        if let ours = scale.polls[Self.shim], let theirs = scale.polls[Self.counterpart] {
            lines.append(["State on \(ours.containers) every second: p99 (ms), monitors' + runtime's CPU (s)",
                          "\(Self.fmt(ours.latencyMs.p99, digits: 3)), \(Self.fmt(ours.monitorCPUSeconds + ours.runtimeCPUSeconds, digits: 2))",
                          "\(Self.fmt(theirs.latencyMs.p99, digits: 3)), \(Self.fmt(theirs.monitorCPUSeconds + theirs.runtimeCPUSeconds, digits: 2))", ""])
        }
        if let ours = scale.teardowns[Self.shim], let theirs = scale.teardowns[Self.counterpart] {
            lines.append(["teardown of \(ours.containers): seconds, left behind",
                          "\(Self.fmt(ours.seconds, digits: 1)), \(ours.leftovers.isEmpty ? "nothing" : "something")",
                          "\(Self.fmt(theirs.seconds, digits: 1)), \(theirs.leftovers.isEmpty ? "nothing" : "something")", ""])
        }
        for target in targets {
            lines.append([target.title, target.value, "", target.verdict])
        }
        let widths = (0..<4).map { column in lines.map { $0[column].count }.max() ?? 0 }
        return lines.map { cells in
            cells.enumerated().map { index, cell in cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }

    // --- docs/BENCHMARKS.md --------------------------------------------------------------

    /// The "Scale" section; `plot` is the SVG's path relative to the document.
    func markdown(plot: String?) -> String {
        let s = scale.settings
        var out = "\n## Scale: \(sizes.last ?? 0) containers on one host\n\n"
        if let plot {
            out += "![Per-monitor memory and create → running against the number of idle containers on the host](\(plot))\n\n"
        }
        out += "### Targets\n\n| figure | value | target |\n| --- | --- | --- |\n"
        for target in targets { out += "| \(target.title) | \(target.value) | \(target.verdict) |\n" }

        out += "\n### Idle containers, each under its own monitor\n\n"
        out += "Medians over every monitor on the host (min – max in brackets); kB.\n\n"
        out += "| containers | monitor | Private_Dirty | PSS | VmRSS | monitors' PSS in all | host MemAvailable less per container |\n"
        out += "| ---: | --- | ---: | ---: | ---: | ---: | ---: |\n"
        for size in sizes {
            for monitor in [Self.shim, Self.counterpart] {
                guard let step = step(monitor, size) else { continue }
                let before = scale.memAvailableBefore[monitor] ?? step.memAvailableKB
                out += "| \(size) | \(monitor) | \(Self.spread(step.privateDirtyKB)) | \(Self.spread(step.pssKB)) | \(Self.spread(step.rssKB)) "
                out += "| \(Self.fmt(step.pssKB.sum / 1024, digits: 1)) MB | \(Self.fmt((before - step.memAvailableKB) / Double(size), digits: 0)) kB |\n"
            }
        }
        out += "\nHost MemAvailable before, at \(sizes.last ?? 0) and after the teardown: "
        out += [Self.shim, Self.counterpart].map { monitor in
            let before = scale.memAvailableBefore[monitor].map { Self.fmt($0 / 1024, digits: 0) } ?? "—"
            let at = steps(monitor).last.map { Self.fmt($0.memAvailableKB / 1024, digits: 0) } ?? "—"
            let after = scale.memAvailableAfter[monitor].map { Self.fmt($0 / 1024, digits: 0) } ?? "—"
            return "\(monitor) \(before) → \(at) → \(after) MB"
        }.joined(separator: "; ") + ".\n"

        out += "\n### Creation bursts: \(s.burstContainers) containers by several engines at once\n\n"
        out += "Medians over \(s.burstRuns) bursts each; create → running per container, ms. CPU: the whole machine's busy CPU time over the burst (/proc/stat: engines, monitors, runc and the kernel) per container, ms; over runc paired run by run like the latency.\n\n"
        out += "| engines | runc alone: /s, p50, p99 | ocishim: /s, p50, p99 | conmon: /s, p50, p99 | ocishim over runc (p50) | conmon over runc (p50) | CPU: runc alone | ocishim over runc | conmon over runc |\n"
        out += "| ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n"
        for engines in engineCounts {
            let cell = { (kind: String) -> String in
                let rate = self.burstRate(kind, engines: engines).map { Self.fmt($0, digits: 1) } ?? "—"
                let p50 = self.burstMedian(kind, engines: engines).map { Self.fmt($0, digits: 1) } ?? "—"
                let p99 = self.burstP99(kind, engines: engines).map { Self.fmt($0, digits: 1) } ?? "—"
                return "\(rate), \(p50), \(p99)"
            }
            let over = { (kind: String) in self.overhead(kind, engines: engines).map { Self.fmt($0, digits: 1) } ?? "—" }
            let cpu = { (value: Double?) in value.map { Self.fmt($0, digits: 1) } ?? "—" }
            out += "| \(engines) | \(cell(Self.runtime)) | \(cell(Self.shim)) | \(cell(Self.counterpart)) | \(over(Self.shim)) | \(over(Self.counterpart)) | "
                + "\(cpu(self.burstCPU(Self.runtime, engines: engines))) | \(cpu(self.cpuOverhead(Self.shim, engines: engines))) | \(cpu(self.cpuOverhead(Self.counterpart, engines: engines))) |\n"
        }

        out += "\nWhose CPU, per container, ms (medians over the bursts): the engine's threads creating and starting the containers (their CPU clocks), "
        out += "and the monitor's processes (the process the engine started, reaped once the monitor was up, and the monitor up to the burst's end: /proc/<pid>/schedstat). "
        out += "A monitor's cost is both over what the engine spends driving runc alone, paired run by run; unlike the machine's CPU above, it holds none of runc's time nor the host's.\n\n"
        out += "| engines | engine: runc alone | engine: ocishim | engine: conmon | ocishim's processes | conmon's processes | ocishim's cost | conmon's cost |\n"
        out += "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        for engines in engineCounts {
            let ms = { (value: Double?) in value.map { Self.fmt($0, digits: 2) } ?? "—" }
            out += "| \(engines) | \(ms(engineCPU(Self.runtime, engines: engines))) | \(ms(engineCPU(Self.shim, engines: engines))) | \(ms(engineCPU(Self.counterpart, engines: engines))) "
            out += "| \(ms(monitorCPU(Self.shim, engines: engines))) | \(ms(monitorCPU(Self.counterpart, engines: engines))) "
            out += "| \(ms(monitorCost(Self.shim, engines: engines))) | \(ms(monitorCost(Self.counterpart, engines: engines))) |\n"
        }

        out += "\n### An engine polling every container's state once a second\n\n"
        out += "| monitor | containers | calls in \(s.pollSeconds) s | full rounds (time of one) | p50 | p99 | monitors' CPU | runtime's CPU |\n"
        out += "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n"
        for monitor in [Self.shim, Self.counterpart] {
            guard let poll = scale.polls[monitor] else { continue }
            let round = poll.roundSeconds.map { Self.fmt($0.median, digits: 3) + " s" } ?? "—"
            out += "| \(monitor) | \(poll.containers) | \(poll.calls) | \(poll.rounds) (\(round)) | \(Self.fmt(poll.latencyMs.median, digits: 3)) ms "
            out += "| \(Self.fmt(poll.latencyMs.p99, digits: 3)) ms | \(Self.cpu(poll.monitorCPUSeconds, poll.seconds)) | \(Self.cpu(poll.runtimeCPUSeconds, poll.seconds)) |\n"
        }

        out += "\n### Teardown\n\n| monitor | containers | time | per container | left behind |\n| --- | ---: | ---: | ---: | --- |\n"
        for monitor in [Self.shim, Self.counterpart] {
            guard let teardown = scale.teardowns[monitor] else { continue }
            let left = teardown.leftovers.kinds.filter { !$0.1.isEmpty }
                .map { "\($0.1.count) \($0.0) (e.g. `\($0.1[0])`)" }
            out += "| \(monitor) | \(teardown.containers) | \(Self.fmt(teardown.seconds, digits: 1)) s "
            out += "| \(Self.fmt(teardown.seconds * 1000 / Double(max(teardown.containers, 1)), digits: 1)) ms "
            out += "| \(left.isEmpty ? "nothing" : left.joined(separator: "; ")) |\n"
        }

        if !scale.limits.isEmpty {
            out += "\n### The host's limits, checked before filling it\n\n"
            for line in scale.limits { out += "- \(line)\n" }
        }
        if !scale.notes.isEmpty {
            out += "\n" + scale.notes.map { "- \($0)\n" }.joined()
        }
        if let loads = scale.loadAverages, !loads.isEmpty {
            out += "\n### The host's load as each part began\n\n"
            out += "Load average over 1, 5 and 15 minutes (/proc/loadavg) on a machine shared with other work; "
            out += "the bench's own previous part counts in the 1-minute figure.\n\n"
            for line in loads { out += "- \(line)\n" }
        }
        return out
    }

    var methodText: String {
        let s = scale.settings
        return """
            - **Scale** (`Scripts/bench`'s full run): every container runs `sleep` from its own bundle; ids and \
            directories are the bench's own. *Idle containers*: the host is filled with containers one after \
            the other under one monitor (ocishim first, then conmon; each container's own monitor, the engine \
            disconnected as in "Memory"), to \(s.sizes.map(String.init).joined(separator: ", ")); at each size, \
            after 1.5 s, /proc/<pid>/smaps_rollup of every monitor on the host and the host's MemAvailable \
            (/proc/meminfo) against what it was before the first container. *Bursts*: \(s.burstContainers) \
            containers created and started by \(s.burstEngines.map(String.init).joined(separator: ", ")) engines at \
            once (threads of the bench, each creating its share one after the other), runc alone, ocishim and \
            conmon interleaved, \(s.burstRuns) bursts each (run by run in every order of the three, each order followed by its \
            reverse, so that over six runs each kind comes first, second and last twice); create → running as \
            in "Latency", containers per second from the first create to the last start; the overhead over runc alone \
            is the median over the runs of each run's difference to its own burst of runc alone, and the target \
            compares the two monitors the same way: the median over the runs of ocishim's burst less conmon's. Each burst starts \
            once the machine has been nearly idle (under 5% busy) for a quarter of a second, so that it does not \
            pay for the kernel's work after the last burst's removal; its CPU is the machine's busy time over the \
            burst (/proc/stat) per container; the engines' and the monitors' own CPU as the second table says. *Polling*: at the largest size the engine connects to every \
            shim's socket (untimed), then asks every container's state once a second for \(s.pollSeconds) s (ocishim: \
            State; conmon: `runc state`), one call after the other; a round that takes longer than its second \
            delays the next. CPU: the time on a CPU of every monitor over the polling \
            (/proc/<pid>/schedstat), and utime + stime of the `runc state` processes (the bench's reaped children). *Teardown*: every container removed as podman's `rm --force` \
            removes it, one after the other (ocishim: Stop with SIGKILL at once and Delete on its connection, until \
            the shim exits; conmon: `runc kill … KILL`, the exit file, `runc delete --force`, until conmon exits); then what is left: monitors and processes in the containers' \
            cgroups, containers in runc's state, cgroup directories, mounts naming the bench's directories, the \
            engine's fds beyond those before the ramp, an ocishim state directory, anything in a bundle besides \
            config.json. The plot is drawn by ocibench from these samples.

            """
    }

    // --- formatting --------------------------------------------------------------------

    static func fmt(_ value: Double, digits: Int = 2) -> String { Report.fmt(value, digits: digits) }

    static func spread(_ summary: Summary) -> String {
        "\(fmt(summary.median, digits: 0)) (\(fmt(summary.min, digits: 0)) – \(fmt(summary.max, digits: 0)))"
    }

    static func range(_ ratios: [Double]) -> String {
        guard let low = ratios.min(), let high = ratios.max() else { return "—" }
        return low == high ? fmt(low) + "×" : "\(fmt(low))× – \(fmt(high))×"
    }

    static func cpu(_ seconds: Double, _ over: Double) -> String {
        "\(fmt(seconds, digits: 2)) s (\(fmt(seconds / max(over, 1e-9) * 100, digits: 1))% of a core)"
    }
}
