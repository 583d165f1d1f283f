import ArgumentParser
import Foundation
import Glibc
import ShimSystem

/// ocishim and conmon side by side: log throughput and CPU, latency, idle
/// memory, State round trips, exec. Scripts/bench builds the static shim and
/// runs this; see docs/BENCHMARKS.md for what it measures and how.
@main
struct OCIBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ocibench",
        abstract: "Benchmark ocishim against conmon on the same bundles, the same machine, the same runc.")

    @Option(help: "The ocishim binary under test (the static release build: Scripts/build-static).")
    var shim: String?

    @Option(help: "conmon (default: from $PATH).")
    var conmon: String?

    @Option(help: "runc (default: from $PATH).")
    var runc: String?

    @Option(name: .customLong("make-bundle"), help: "Scripts/make-bundle.")
    var makeBundle: String?

    @Option(name: .customLong("work-dir"), help: "Scratch directory for bundles, state and logs (default: on tmpfs, /dev/shm).")
    var workDir: String?

    @Flag(help: "A smoke run: one run of each figure, small sizes.")
    var quick = false

    @Option(help: "Runs per figure (default: 5; --quick: 1).")
    var runs: Int?

    @Option(name: .customLong("log-mb"), help: "MB of container output per throughput run (default: 200).")
    var logMB: Int?

    @Option(name: .customLong("idle"), help: "Idle containers per monitor for the memory figures (default: 20).")
    var idleContainers: Int?

    @Flag(name: .customLong("no-containerd"), help: "Skip the containerd shims' memory figures.")
    var noContainerd = false

    @Option(name: .customLong("containerd-shim"),
            help: "containerd-shim-ocishim-v1 to measure beside containerd-shim-runc-v2 (default: the one next to --shim).")
    var containerdShim: String?

    @Option(name: .customLong("save-results"), help: "Save the measured samples as JSON (docs/benchmarks-results.json).")
    var saveResults: String?

    @Option(help: "Measure nothing: render the table and --markdown from results saved with --save-results.")
    var render: String?

    @Option(help: "Write the results as Markdown to this file (docs/BENCHMARKS.md).")
    var markdown: String?

    @Option(help: "A Markdown file appended to the generated document (the analysis).")
    var notes: String?

    @Option(help: "The command line to quote in the document.")
    var command = "Scripts/bench"

    @Option(name: .customLong("describe"), help: "KEY=VALUE for the document's machine table (repeatable).")
    var descriptions: [String] = []

    @Option(help: "Measure only these parts (comma-separated: latency, log, memory, rpc, containerd, scale); for profiling one figure.")
    var only: String?

    @Flag(name: .customLong("no-scale"), help: "Skip the scale section (hundreds of containers; part of the full run).")
    var noScale = false

    @Option(name: .customLong("scale-sizes"), help: "Idle containers per monitor at which the scale section measures memory, comma-separated (default: 20,100,500,1000; capped by the host's limits). Runs the scale section even with --quick.")
    var scaleSizes: String?

    @Option(name: .customLong("burst-containers"), help: "Containers per creation burst (default: 100).")
    var burstContainers: Int?

    @Option(name: .customLong("burst-engines"), help: "Concurrent engines of the bursts, comma-separated (default: 1,4,16).")
    var burstEngines: String?

    @Option(name: .customLong("burst-runs"), help: "Bursts per monitor and engine count (default: 6).")
    var burstRuns: Int?

    @Option(name: .customLong("poll-seconds"), help: "Seconds the engine polls every container's state (default: 10).")
    var pollSeconds: Int?

    @Option(help: "Write the scale section's plot (SVG) to this file; --markdown shows it.")
    var plot: String?

    @Option(help: "Measure nothing: remove what a killed run with this id prefix (ocibench-<pid>-) left (its monitors, runc containers, the work directory given with --work-dir).")
    var sweep: String?

    @Flag(help: "Fail unless every target is met.")
    var requireTargets = false

    func validate() throws {
        if let runs, runs < 1 { throw ValidationError("--runs must be at least 1") }
        if let logMB, logMB < 1 { throw ValidationError("--log-mb must be at least 1") }
        if let idleContainers, idleContainers < 1 { throw ValidationError("--idle must be at least 1") }
        for (name, list) in [("--scale-sizes", scaleSizes), ("--burst-engines", burstEngines)] {
            if let list, Self.numbers(list) == nil { throw ValidationError("\(name) takes positive numbers separated by commas") }
        }
        for (name, value) in [("--burst-containers", burstContainers), ("--burst-runs", burstRuns), ("--poll-seconds", pollSeconds)] {
            if let value, value < 1 { throw ValidationError("\(name) must be at least 1") }
        }
        if sweep != nil && workDir == nil { throw ValidationError("--sweep needs the run's --work-dir") }
    }

    static func numbers(_ list: String) -> [Int]? {
        let values = list.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return values.compactMap { $0 }
    }

    func run() throws {
        if let sweep, let workDir {
            let removed = Sweep(runc: runc ?? FileSystem.lookPath("runc") ?? "runc", workDir: workDir, idPrefix: sweep).run()
            if !removed.isEmpty { FileHandle.standardError.write(Data("ocibench: swept \(removed.joined(separator: ", "))\n".utf8)) }
            return
        }
        let results: Results
        if let render {
            let data = try Data(contentsOf: URL(fileURLWithPath: render))
            results = try JSONDecoder().decode(Results.self, from: data)
        } else {
            do {
                results = try measure()
            } catch let stop as Interrupted {
                FileHandle.standardError.write(Data("ocibench: \(stop)\n".utf8))
                throw ExitCode(130)
            }
            if let saveResults {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try encoder.encode(results).write(to: URL(fileURLWithPath: saveResults))
            }
        }
        let report = Report(results: results)
        print(report.table)
        if let scale = report.scale {
            print("")
            print(scale.table)
        }
        fflush(nil)  // the tables before the notes on stderr
        if let plot, let scale = report.scale {
            try ScalePlot(report: scale).svg.write(toFile: plot, atomically: true, encoding: .utf8)
            FileHandle.standardError.write(Data("ocibench: wrote \(plot)\n".utf8))
        }
        if let markdown {
            let appendix = try notes.map { try String(contentsOfFile: $0, encoding: .utf8) } ?? ""
            let plotLink = plot.map { Self.relative($0, from: (markdown as NSString).deletingLastPathComponent) }
            try report.markdown(notes: appendix, plot: plotLink).write(toFile: markdown, atomically: true, encoding: .utf8)
            FileHandle.standardError.write(Data("ocibench: wrote \(markdown)\n".utf8))
        }
        if requireTargets, report.rows.contains(where: { $0.met == false }) || report.scale?.targets.contains(where: { $0.met == false }) == true {
            throw ExitCode(3)
        }
    }

    /// `path` as the document at `dir` links it.
    static func relative(_ path: String, from dir: String) -> String {
        let file = FileSystem.absolute(path)
        let base = FileSystem.absolute(dir.isEmpty ? "." : dir)
        return file.hasPrefix(base + "/") ? String(file.dropFirst(base.count + 1)) : file
    }

    private func measure() throws -> Results {
        var settings = quick ? Settings.quick : Settings.full
        if let runs { settings.runs = runs; settings.latencyRuns = max(runs, quick ? 1 : 2 * runs) }
        if let logMB {
            settings.logBytes = logMB * 1_000_000
            settings.dataFileBytes = min(settings.dataFileBytes, settings.logBytes)
        }
        if let idleContainers { settings.idleContainers = idleContainers }
        if noScale { settings.scale = nil }
        if scaleSizes != nil || burstContainers != nil || burstEngines != nil || burstRuns != nil || pollSeconds != nil {
            var scale = settings.scale ?? .full
            if let scaleSizes, let sizes = Self.numbers(scaleSizes) { scale.sizes = sizes.sorted() }
            if let burstEngines, let engines = Self.numbers(burstEngines) { scale.burstEngines = engines }
            if let burstContainers { scale.burstContainers = burstContainers }
            if let burstRuns { scale.burstRuns = burstRuns }
            if let pollSeconds { scale.pollSeconds = pollSeconds }
            if !noScale { settings.scale = scale }
        }

        guard let conmon = conmon ?? FileSystem.lookPath("conmon") else { throw BenchError("conmon is not installed (apt-get install conmon)") }
        guard let runc = runc ?? FileSystem.lookPath("runc") else { throw BenchError("runc is not installed") }
        guard let shim else { throw ValidationError("--shim is required unless --render") }
        guard let makeBundle else { throw ValidationError("--make-bundle is required unless --render") }
        guard geteuid() == 0 else { throw BenchError("the bench runs containers with runc and must run as root") }
        try Processes.becomeSubreaper()
        Interrupt.install()

        let dir = workDir ?? "/dev/shm/ocibench-\(getpid())"
        defer { if workDir == nil { try? FileManager.default.removeItem(atPath: dir) } }
        // A last look for anything of this run still there (a step that
        // failed half-way); nothing, normally.
        defer {
            let removed = Sweep(runc: runc, workDir: dir, idPrefix: "ocibench-\(getpid())-").run()
            let leftovers = removed.filter { $0 != dir }
            if !leftovers.isEmpty { FileHandle.standardError.write(Data("ocibench: removed what was left: \(leftovers.joined(separator: ", "))\n".utf8)) }
        }
        let started = Date()
        let loadBefore = ProcFS.loadAverage()
        let bench = try Bench(settings: settings, workDir: dir, makeBundle: makeBundle,
                              shim: FileSystem.absolute(shim), conmon: conmon, runc: runc)
        let parts = Set((only ?? "latency,log,memory,rpc,containerd,scale").split(separator: ",").map(String.init))
        if parts.contains("latency") || parts.contains("log") { try bench.measureLatency() }
        if parts.contains("log") {
            try bench.measureThroughput()
            try bench.measurePromptDelay()
        }
        if parts.contains("memory") { try bench.measureMemory() }
        if parts.contains("rpc") { try bench.measureRPCAndExec() }
        if !noContainerd && parts.contains("containerd") {
            let besideShim = FileSystem.join(FileSystem.dirname(of: FileSystem.absolute(shim)), "containerd-shim-ocishim-v1")
            let ocishimV1 = containerdShim.map(FileSystem.absolute) ?? (FileSystem.isExecutableFile(besideShim) ? besideShim : nil)
            bench.measureContainerdShims(containerd: FileSystem.lookPath("containerd"), ctr: FileSystem.lookPath("ctr"),
                                         ocishimV1: ocishimV1)
        }
        var scale: ScaleResults?
        if parts.contains("scale"), let scaleSettings = settings.scale {
            scale = try ScaleBench(bench: bench, settings: scaleSettings).run()
        }
        Processes.reapExited()

        var results = bench.results
        results.scale = scale
        results.command = command
        var environment = machineDescription(shim: shim, conmon: conmon, runc: runc)
        for item in descriptions {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            environment.append([parts[0], parts.count > 1 ? parts[1] : ""])
        }
        environment.append(["bench duration", "\(Int(Date().timeIntervalSince(started))) s"])
        environment.append(["load average (1, 5, 15 min) before the run, at its end", "\(loadBefore); \(ProcFS.loadAverage())"])
        results.environment = environment
        return results
    }

    private func machineDescription(shim: String, conmon: String, runc: String) -> [[String]] {
        var out: [[String]] = []
        let cpu = ((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")
            .split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces) } ?? "?"
        out.append(["cpu", "\(cpu), \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) online"])
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        out.append(["kernel", release])
        let firstLine = { (path: String, args: [String]) in
            ((try? Processes.run(path, args)) ?? "?").split(separator: "\n").first.map(String.init) ?? "?"
        }
        out.append(["conmon", "\(conmon): \(firstLine(conmon, ["--version"]))"])
        out.append(["runc", "\(runc): \(firstLine(runc, ["--version"]))"])
        let cwd = FileManager.default.currentDirectoryPath + "/"
        let shown = FileSystem.absolute(shim).hasPrefix(cwd) ? String(FileSystem.absolute(shim).dropFirst(cwd.count)) : shim
        out.append(["ocishim", "\(shown): \(firstLine(shim, ["--version"]))"])
        return out
    }
}
