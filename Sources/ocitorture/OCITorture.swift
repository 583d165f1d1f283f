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

    // The worker process the supervisor starts (see `run`).
    @Flag(help: .hidden) var worker = false
    @Option(name: .customLong("work-dir"), help: .hidden) var workDir: String?
    @Option(help: .hidden) var token: String?

    /// This process supervises: it makes the work directory, starts the
    /// checks in a worker process (this program with --worker), and when the
    /// worker ends, or on SIGINT/SIGTERM/SIGHUP (the worker is then
    /// SIGKILLed), sweeps whatever is left. A worker stopped anywhere, even
    /// in the middle of spawning a shim, leaves nothing behind.
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
        let me = FileSystem.readLink("/proc/self/exe") ?? CommandLine.arguments[0]
        let shimPath = FileSystem.absolute(shim ?? FileSystem.dirname(of: me) + "/ocishim")
        let ocictlPath = FileSystem.absolute(ocictl ?? FileSystem.dirname(of: me) + "/ocictl")
        guard let runcPath = runc ?? FileSystem.lookPath("runc") ?? (FileSystem.isExecutableFile("/usr/sbin/runc") ? "/usr/sbin/runc" : nil) else {
            throw ValidationError("runc is not installed (Scripts/install-deps)")
        }
        for path in [shimPath, ocictlPath, FileSystem.absolute(makeBundle)] where !FileSystem.isExecutableFile(path) {
            throw ValidationError("\(path) is not an executable file")
        }
        guard FileSystem.isRegularFile(proto) else { throw ValidationError("\(proto) does not exist (--proto)") }
        let selected = Catalogue.all.filter { names?.contains($0.name) ?? true }
        SignalSource.ignore([SIGPIPE])

        if worker, let workDir, let token, let seed {
            let cleanup = Cleanup(runc: runcPath, workDir: workDir, idPrefix: token + "-")
            let lab = Lab(quick: quick, shim: shimPath, ocictl: ocictlPath, runc: runcPath,
                          makeBundle: FileSystem.absolute(makeBundle), protoFile: FileSystem.absolute(proto),
                          workDir: workDir, runToken: token, seed: seed, reaper: try Reaper(), cleanup: cleanup)
            let passed = runChecks(selected, lab)
            cleanup.runFinal()
            if !passed { throw ExitCode(1) }
            return
        }

        let seed = self.seed ?? UInt64(Clock.realtimeNanos())
        var random = SeededRandom(seed: seed)
        let token = "tt" + String(random.next() & 0xFF_FFFF, radix: 16)
        let workDir = try TemporaryDirectory.make(prefix: "ocitorture")
        let cleanup = Cleanup(runc: runcPath, workDir: workDir, idPrefix: token + "-")
        say("ocitorture\(quick ? " --quick" : ""): \(selected.count) checks; shim \(shimPath); seed \(seed); work dir \(workDir); container ids \(token)-*")
        var arguments = ["--worker", "--work-dir", workDir, "--token", token, "--seed", "\(seed)",
                         "--shim", shimPath, "--ocictl", ocictlPath, "--runc", runcPath,
                         "--make-bundle", FileSystem.absolute(makeBundle), "--proto", FileSystem.absolute(proto)]
        if quick { arguments.append("--quick") }
        if let only { arguments += ["--only", only] }
        let status = Supervisor.run(me, arguments, cleanup: cleanup)
        if keep { say("work directory kept: \(workDir)") } else { try? FileSystem.removeTree(workDir) }
        if status != 0 { throw ExitCode(status) }
    }

    /// Runs the checks in order; prints each verdict and a summary. True
    /// when all passed.
    func runChecks(_ selected: [CheckDefinition], _ lab: Lab) -> Bool {
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
            lab.cleanup.run()
            lab.reaper.collect()
            let took = seconds(since: start)
            say("-- \(check.name): \(report.passed ? "PASS" : "FAIL") (\(String(format: "%.1f", took)) s)")
            results.append((check.name, report.passed, took))
        }
        say("\n== summary (\(String(format: "%.0f", seconds(since: began))) s, seed \(lab.seed))")
        for (name, passed, took) in results {
            say("  \(passed ? "PASS" : "FAIL")  \(name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(String(format: "%6.1f", took)) s")
        }
        let failed = results.filter { !$0.1 }.map(\.0)
        if failed.isEmpty {
            say("ocitorture: all \(results.count) checks passed")
        } else {
            say("ocitorture: \(failed.count) of \(results.count) checks failed: \(failed.joined(separator: ", "))")
        }
        return failed.isEmpty
    }
}
