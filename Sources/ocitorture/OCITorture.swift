import ArgumentParser
import Foundation
import Glibc
import ShimSystem

/// The reliability suite behind Scripts/torture (docs/TORTURE.md): each
/// check attacks a real shim driving real runc containers and prints what
/// it tried, what it found, each expectation, and PASS or FAIL.
@main
struct OCITorture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ocitorture",
        abstract: "Torture a shim: fuzzers, engine and shim kills, exec churn, file tricks, a full disk, slow readers.")

    @Flag(help: "The short version of every check (what Scripts/test runs).")
    var quick = false

    @Option(help: "Run only these checks (comma-separated names; --list shows them).")
    var only: String?

    @Flag(help: "List the checks and exit.")
    var list = false

    @Option(help: "The ocishim binary under test (default: next to ocitorture).")
    var shim: String?

    @Option(help: "ocictl (default: next to ocitorture).")
    var ocictl: String?

    @Option(help: "runc (default: from $PATH).")
    var runc: String?

    @Option(name: .customLong("make-bundle"), help: "Scripts/make-bundle (default: ./Scripts/make-bundle).")
    var makeBundle = "Scripts/make-bundle"

    @Option(help: "proto/ocishim/v1/shim.proto (default: ./proto/ocishim/v1/shim.proto).")
    var proto = "proto/ocishim/v1/shim.proto"

    @Option(help: "The random seed (default: from the clock; printed, to repeat a run).")
    var seed: UInt64?

    @Flag(help: "Keep the work directory (bundles, state dirs, logs) for a look afterwards.")
    var keep = false

    func run() throws {
        if list {
            for check in Catalogue.all { say("\(check.name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(check.covers.padding(toLength: 18, withPad: " ", startingAt: 0)) \(check.summary)") }
            return
        }
        guard getuid() == 0 else { throw ValidationError("ocitorture runs containers with runc and mounts a tmpfs: run it as root") }
        let names = only.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if let names, let unknown = names.first(where: { name in !Catalogue.all.contains { $0.name == name } }) {
            throw ValidationError("no check named \(unknown) (--list shows them)")
        }
        let selected = Catalogue.all.filter { names?.contains($0.name) ?? true }
        let me = FileSystem.readLink("/proc/self/exe").map { FileSystem.dirname(of: $0) } ?? "."
        let shimPath = FileSystem.absolute(shim ?? me + "/ocishim")
        let ocictlPath = FileSystem.absolute(ocictl ?? me + "/ocictl")
        guard let runcPath = runc ?? FileSystem.lookPath("runc") ?? (FileSystem.isExecutableFile("/usr/sbin/runc") ? "/usr/sbin/runc" : nil) else {
            throw ValidationError("runc is not installed (Scripts/install-deps)")
        }
        for path in [shimPath, ocictlPath, FileSystem.absolute(makeBundle)] where !FileSystem.isExecutableFile(path) {
            throw ValidationError("\(path) is not an executable file")
        }
        guard FileSystem.isRegularFile(proto) else { throw ValidationError("\(proto) does not exist (--proto)") }

        let seed = self.seed ?? UInt64(Clock.realtimeNanos())
        var random = SeededRandom(seed: seed)
        let token = "tt" + String(random.next() & 0xFF_FFFF, radix: 16)
        let workDir = try TemporaryDirectory.make(prefix: "ocitorture")
        let reaper = try Reaper()
        let cleanup = Cleanup(runc: runcPath, workDir: workDir, idPrefix: token + "-")
        let keep = self.keep
        cleanup.handleInterrupts {
            cleanup.runFinal()
            if !keep { try? FileSystem.removeTree(workDir) }
        }
        SignalSource.ignore([SIGPIPE])
        let lab = Lab(quick: quick, shim: shimPath, ocictl: ocictlPath, runc: runcPath,
                      makeBundle: FileSystem.absolute(makeBundle), protoFile: FileSystem.absolute(proto),
                      workDir: workDir, runToken: token, seed: seed, reaper: reaper, cleanup: cleanup)

        say("ocitorture\(quick ? " --quick" : ""): \(selected.count) checks; shim \(shimPath); seed \(seed); work dir \(workDir); container ids \(token)-*")
        var results: [(String, Bool, Double)] = []
        let began = Clock.monotonicNanos()
        for check in selected {
            say("\n== \(check.name) (\(check.covers)): \(check.summary)")
            let report = Report(name: check.name)
            let start = Clock.monotonicNanos()
            do {
                try check.run(lab, report)
            } catch {
                report.fail("the check stopped: \(error)")
            }
            cleanup.run()
            reaper.collect()
            let took = seconds(since: start)
            say("-- \(check.name): \(report.passed ? "PASS" : "FAIL") (\(String(format: "%.1f", took)) s)")
            results.append((check.name, report.passed, took))
        }
        cleanup.runFinal()
        if keep { say("\nwork directory kept: \(workDir)") } else { try? FileSystem.removeTree(workDir) }

        say("\n== summary (\(String(format: "%.0f", seconds(since: began))) s, seed \(seed))")
        for (name, passed, took) in results {
            say("  \(passed ? "PASS" : "FAIL")  \(name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(String(format: "%6.1f", took)) s")
        }
        let failed = results.filter { !$0.1 }.map(\.0)
        if !failed.isEmpty {
            say("ocitorture: \(failed.count) of \(results.count) checks failed: \(failed.joined(separator: ", "))")
            throw ExitCode(1)
        }
        say("ocitorture: all \(results.count) checks passed")
    }
}
