import Foundation

/// The bench's results as a table (terminal) and as docs/BENCHMARKS.md.
struct Report {
    let results: Results

    static let shim = "ocishim"
    static let counterpart = "conmon"

    /// The scale section, when it ran.
    var scale: ScaleReport? { results.scale.map(ScaleReport.init) }

    struct Row {
        var figure: Figure
        var ocishim: Double?
        var counterpart: Double?
        var note: String?
        /// ocishim's sample less conmon's of the same run, the median over
        /// the runs (Figure.pairedSamples).
        var runByRun: Double?

        /// ocishim / counterpart; none for a difference that is not positive
        /// on both sides (an overhead within the noise of raw runc).
        var ratio: Double? {
            guard figure.hasRatio, let ocishim, let counterpart, counterpart > 0, ocishim >= 0 else { return nil }
            return ocishim / counterpart
        }

        /// "met", "missed: ..." or "" (no target).
        var verdict: String {
            switch figure.target {
            case .none:
                return ""
            case .ratioAtLeast(let goal):
                guard let ratio else { return "not measured" }
                return ratio >= goal ? "met (≥ \(fmt(goal))×)" : "MISSED: \(fmt(ratio))× of ≥ \(fmt(goal))× (needs \(percent(goal / ratio - 1)) more)"
            case .ratioAtMost(let goal):
                guard let ratio else { return "not measured" }
                return ratio <= goal ? "met (≤ \(fmt(goal))×)" : "MISSED: \(fmt(ratio))× of ≤ \(fmt(goal))× (needs \(percent(1 - goal / ratio)) less)"
            case .atMost(let limit):
                guard let ocishim else { return "not measured" }
                return ocishim <= limit ? "met (≤ \(fmt(limit)) \(figure.unit))" : "MISSED: \(fmt(ocishim)) of ≤ \(fmt(limit)) \(figure.unit)"
            case .atMostCounterpartsRunByRun:
                guard let runByRun else { return "not measured" }
                let difference = "ocishim's less conmon's, run by run: \(fmt(runByRun, digits: figure.precision)) \(figure.unit)"
                return runByRun <= 0 ? "met (≤ conmon's; \(difference))" : "MISSED (≤ conmon's; \(difference))"
            }
        }

        var met: Bool? {
            if case .none = figure.target { return nil }
            return verdict.hasPrefix("met")
        }
    }

    var rows: [Row] {
        Figure.allCases.map { figure in
            Row(figure: figure, ocishim: results.median(figure, Self.shim), counterpart: results.median(figure, Self.counterpart),
                note: results.note(figure), runByRun: figure.pairedSamples.flatMap(runByRun))
        }
    }

    /// ocishim's samples of `figure` against conmon's of the same runs (both
    /// are recorded once per run, in run order); nil unless every run has both.
    private func runByRun(_ figure: Figure) -> Double? {
        let ours = results.values(figure, Self.shim), theirs = results.values(figure, Self.counterpart)
        guard ours.count == theirs.count else { return nil }
        return Stats.runByRunDifference(ours, theirs)
    }

    // --- the terminal table -----------------------------------------------------------

    var table: String {
        var lines: [[String]] = [["figure", "unit", "ocishim", "conmon", "ocishim/conmon", "target"]]
        for row in rows {
            if let note = row.note, row.ocishim == nil {
                lines.append([row.figure.title, row.figure.unit, "—", value(row.counterpart, row.figure), "", note])
                continue
            }
            lines.append([row.figure.title, row.figure.unit, value(row.ocishim, row.figure), value(row.counterpart, row.figure),
                          row.ratio.map { Self.fmt($0) + "×" } ?? "", row.verdict])
        }
        for baseline in Baseline.allCases {
            if let note = results.note(baseline) {
                lines.append([baseline.title, baseline.unit, "", "", "", note])
            } else if let median = results.median(baseline) {
                lines.append([baseline.title, baseline.unit, "", Self.fmt(median, digits: baseline.unit == "kB" ? 0 : 1), "", "baseline"])
            }
        }
        let widths = (0..<6).map { column in lines.map { $0[column].count }.max() ?? 0 }
        return lines.map { cells in
            cells.enumerated().map { index, cell in
                index == 0 || index == 5 ? cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                                         : String(repeating: " ", count: widths[index] - cell.count) + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    private func value(_ value: Double?, _ figure: Figure) -> String {
        value.map { Self.fmt($0, digits: figure.precision) } ?? "—"
    }

    // --- docs/BENCHMARKS.md -------------------------------------------------------------

    /// `plot`: the scale section's SVG, relative to the document.
    func markdown(notes: String, plot: String? = nil) -> String {
        var out = """
            # Benchmarks: ocishim and conmon side by side

            Generated by `\(results.command)` (Sources/ocibench, Scripts/bench). Every figure is the
            median of the runs listed under "Method"; ocishim and conmon ran interleaved, run by
            run, on the same bundles, the same machine, the same runc.

            | machine | |
            | --- | --- |

            """
        for pair in results.environment where pair.count == 2 { out += "| \(pair[0]) | \(pair[1]) |\n" }
        out += "\n## Results\n\n| figure | unit | ocishim | conmon | ocishim/conmon | target |\n| --- | --- | ---: | ---: | ---: | --- |\n"
        for row in rows {
            let ours = row.ocishim.map { Self.fmt($0, digits: row.figure.precision) } ?? "—"
            let theirs = row.counterpart.map { Self.fmt($0, digits: row.figure.precision) } ?? "—"
            let ratio = row.ratio.map { Self.fmt($0) + "×" } ?? ""
            let verdict = row.note.map { row.ocishim == nil ? $0 : row.verdict + "; " + $0 } ?? row.verdict
            out += "| \(row.figure.title) | \(row.figure.unit) | \(ours) | \(theirs) | \(ratio) | \(verdict) |\n"
        }
        out += "\n### Baselines (no monitor, or another one)\n\n| figure | unit | value |\n| --- | --- | ---: |\n"
        for baseline in Baseline.allCases {
            if let note = results.note(baseline) {
                out += "| \(baseline.title) | | \(note) |\n"
            } else if let median = results.median(baseline) {
                out += "| \(baseline.title) | \(baseline.unit) | \(Self.fmt(median, digits: baseline.unit == "kB" ? 0 : 1)) |\n"
            }
        }
        out += "\n### Spread (min – median – max over the runs)\n\n| figure | ocishim | conmon |\n| --- | --- | --- |\n"
        for figure in Figure.allCases where [.log, .latency].contains(Section(figure)) {
            out += "| \(figure.title) | \(spread(figure, Self.shim)) | \(spread(figure, Self.counterpart)) |\n"
        }
        if let scale { out += scale.markdown(plot: plot) }
        out += "\n" + methodText + (scale?.methodText ?? "") + "\n" + notes
        return out
    }

    private enum Section { case log, latency, other
        init(_ figure: Figure) {
            switch figure.section {
            case "log": self = .log
            case "latency": self = figure == .createOverhead || figure == .startOverhead ? .other : .latency
            default: self = .other
            }
        }
    }

    private func spread(_ figure: Figure, _ monitor: String) -> String {
        let values = results.values(figure, monitor)
        guard let low = values.min(), let high = values.max(), let mid = Stats.median(values) else { return "—" }
        let digits = figure.precision
        return "\(Self.fmt(low, digits: digits)) – \(Self.fmt(mid, digits: digits)) – \(Self.fmt(high, digits: digits)) (n=\(values.count))"
    }

    private var methodText: String {
        let s = results.settings
        return """
            ## Method

            - **Log throughput**: a container runs busybox `cat` of a \(s.dataFileBytes / 1_000_000) MB file \
            \(max(1, s.logBytes / s.dataFileBytes)) times (\(s.logBytes / 1_000_000) MB): 100-byte lines (99 × `x` and a \
            newline), or the same bytes without any newline. The time runs from the engine's start call to the exit \
            being recorded (ocishim: Wait answers; conmon: the exit file appears, watched with inotify), less the \
            same monitor's median start → exit time for `/bin/true`, so that container start-up is not counted as \
            logging. MB/s = 10^6 bytes of container output per second. The log (k8s-file) is on tmpfs, so the \
            monitor is measured, not the disk; every run's log is read back and must hold exactly the bytes printed. \
            \(s.runs) runs each.
            - **Monitor CPU**: utime + stime of the monitor process (/proc/<pid>/stat, its own time, not its \
            children's) from before start to after the exit was recorded, per 100 MB of output. conmon exits after \
            recording: the bench is its subreaper and reads the times of the zombie before reaping it.
            - **P records per million lines**: the P records in the logs of the 100-byte-line runs, per line \
            (F record) printed. A P record means a line was split into more than one record: by conmon wherever \
            one of its reads ended inside a line; by ocishim only for a line longer than its 16 KiB hold or one \
            held past its 100 ms deadline.
            - **A prompt without newline → log**: a container prints `ready` and a newline, then `prompt> ` \
            without one, and waits. The bench polls the log every 0.5 ms; the figure is the time from the \
            `ready` record showing to the `prompt> ` record showing, \(s.runs) runs each: what holding an unfinished \
            line costs someone following the log.
            - **Latency**: `/bin/true`, \(s.latencyRuns) runs. create → running: from spawning the monitor until \
            the engine's start call has returned; start → exit recorded: from that start call until the exit is \
            recorded. ocishim: spawn `ocishim serve`, Create, Start, Wait (no Hello: podman does not greet conmon \
            either). conmon: as podman's createOCIContainer launches it (sync pipe answer), then `runc start`, then \
            the exit file. Raw runc: `runc create` + `runc start` with the container's stdio on /dev/null, the exit \
            reaped by the bench. Each run times raw runc, then both monitors (which goes first alternates run by \
            run); an overhead is the median over the runs of the monitor's time minus the same run's raw runc \
            time (paired, so that the machine's load drifting from run to run cancels out); a negative one is \
            within the noise of raw runc. The target compares the two monitors the same way: the median over the \
            runs of ocishim's time less conmon's in the same run (raw runc cancels).
            - **Memory**: \(s.idleContainers) containers running `sleep` at once under each monitor, the engine \
            disconnected (ocishim: the stdio connection closed, as after an engine restart; conmon has none), \
            /proc/<pid>/smaps_rollup of each monitor after 1.5 s idle, median over the monitors. PSS shares the \
            text of the binary between the running monitors; the binaries were synced to disk before.
            - **RPC**: \(s.stateCalls) State calls on a running container after 20 warm-up calls, through \
            ShimClient over the shim's stdio (State answers from the monitor's own knowledge); State with refresh \
            runs `runc state` in the shim; an engine with conmon runs `runc state` itself (\(s.runtimeStateCalls) each).
            - **Exec**: ExecSync of `/bin/true` against `runc exec` of it (the conmon column), \(s.latencyRuns) runs each.
            - **Noise**: the machine is shared (two cores, other builds running at times); interleaving the \
            monitors run by run spreads that noise over both. The spread table shows how much it moved.

            """
    }

    static func fmt(_ value: Double, digits: Int = 2) -> String {
        String(format: "%.\(digits)f", value)
    }

    static func percent(_ fraction: Double) -> String {
        "\(Int((fraction * 100).rounded()))%"
    }
}

private func fmt(_ value: Double) -> String { Report.fmt(value) }
private func percent(_ fraction: Double) -> String { Report.percent(fraction) }
