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

    @Flag(name: .customLong("no-containerd"), help: "Skip containerd-shim-runc-v2's memory figures.")
    var noContainerd = false

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

    @Option(help: "Measure only these parts (comma-separated: latency, log, memory, rpc, containerd); for profiling one figure.")
    var only: String?

    @Flag(help: "Fail unless every target is met.")
    var requireTargets = false

    func validate() throws {
        if let runs, runs < 1 { throw ValidationError("--runs must be at least 1") }
        if let logMB, logMB < 1 { throw ValidationError("--log-mb must be at least 1") }
        if let idleContainers, idleContainers < 1 { throw ValidationError("--idle must be at least 1") }
    }

    func run() throws {
        let results: Results
        if let render {
            let data = try Data(contentsOf: URL(fileURLWithPath: render))
            results = try JSONDecoder().decode(Results.self, from: data)
        } else {
            results = try measure()
            if let saveResults {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try encoder.encode(results).write(to: URL(fileURLWithPath: saveResults))
            }
        }
        let report = Report(results: results)
        print(report.table)
        if let markdown {
            let appendix = try notes.map { try String(contentsOfFile: $0, encoding: .utf8) } ?? ""
            try report.markdown(notes: appendix).write(toFile: markdown, atomically: true, encoding: .utf8)
            FileHandle.standardError.write(Data("ocibench: wrote \(markdown)\n".utf8))
        }
        if requireTargets, report.rows.contains(where: { $0.met == false }) {
            throw ExitCode(3)
        }
    }

    private func measure() throws -> Results {
        var settings = quick ? Settings.quick : Settings.full
        if let runs { settings.runs = runs; settings.latencyRuns = max(runs, quick ? 1 : 2 * runs) }
        if let logMB {
            settings.logBytes = logMB * 1_000_000
            settings.dataFileBytes = min(settings.dataFileBytes, settings.logBytes)
        }
        if let idleContainers { settings.idleContainers = idleContainers }

        guard let conmon = conmon ?? FileSystem.lookPath("conmon") else { throw BenchError("conmon is not installed (apt-get install conmon)") }
        guard let runc = runc ?? FileSystem.lookPath("runc") else { throw BenchError("runc is not installed") }
        guard let shim else { throw ValidationError("--shim is required unless --render") }
        guard let makeBundle else { throw ValidationError("--make-bundle is required unless --render") }
        guard geteuid() == 0 else { throw BenchError("the bench runs containers with runc and must run as root") }
        try Processes.becomeSubreaper()

        let dir = workDir ?? "/dev/shm/ocibench-\(getpid())"
        defer { if workDir == nil { try? FileManager.default.removeItem(atPath: dir) } }
        let started = Date()
        let bench = try Bench(settings: settings, workDir: dir, makeBundle: makeBundle,
                              shim: FileSystem.absolute(shim), conmon: conmon, runc: runc)
        let parts = Set((only ?? "latency,log,memory,rpc,containerd").split(separator: ",").map(String.init))
        if parts.contains("latency") || parts.contains("log") { try bench.measureLatency() }
        if parts.contains("log") {
            try bench.measureThroughput()
            try bench.measurePromptDelay()
        }
        if parts.contains("memory") { try bench.measureMemory() }
        if parts.contains("rpc") { try bench.measureRPCAndExec() }
        if !noContainerd && parts.contains("containerd") {
            bench.measureContainerdShim(containerd: FileSystem.lookPath("containerd"), ctr: FileSystem.lookPath("ctr"))
        }
        Processes.reapExited()

        var results = bench.results
        results.command = command
        var environment = machineDescription(shim: shim, conmon: conmon, runc: runc)
        for item in descriptions {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            environment.append([parts[0], parts.count > 1 ? parts[1] : ""])
        }
        environment.append(["bench duration", "\(Int(Date().timeIntervalSince(started))) s"])
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
