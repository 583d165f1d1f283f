import Foundation
import Glibc
import ShimSystem

/// What every check works with: the binaries under test, a private work
/// directory, unique container ids, bundles, the reaper and the cleanup
/// registry, and the run's size (--quick or full).
final class Lab {
    let quick: Bool
    let shim: String
    let ocictl: String
    let runcPath: String
    let makeBundle: String
    /// proto/ocishim/v1/shim.proto: the numeric fuzzer reads its fields.
    let protoFile: String
    let workDir: String
    /// Prefix of every container id of this run ("tt<hex>"), unique per run
    /// so that nothing of another session on the machine is ever touched.
    let runToken: String
    let seed: UInt64
    let reaper: Reaper
    let cleanup: Cleanup
    let commands: Commands
    var random: SeededRandom
    private var counter = 0
    private var sharedRootfs: String?
    private var baseConfig: [String: Any]?

    init(quick: Bool, shim: String, ocictl: String, runc: String, makeBundle: String, protoFile: String, workDir: String,
         runToken: String, seed: UInt64, reaper: Reaper, cleanup: Cleanup) {
        self.quick = quick
        self.shim = shim
        self.ocictl = ocictl
        self.runcPath = runc
        self.makeBundle = makeBundle
        self.protoFile = protoFile
        self.workDir = workDir
        self.runToken = runToken
        self.seed = seed
        self.reaper = reaper
        self.cleanup = cleanup
        self.random = SeededRandom(seed: seed)
        self.commands = Commands(reaper: reaper, scratch: workDir)
    }

    /// `quick` in a --quick run, `full` otherwise.
    func scaled(_ quick: Int, _ full: Int) -> Int { self.quick ? quick : full }
    func scaled(_ quick: Double, _ full: Double) -> Double { self.quick ? quick : full }

    func uniqueID(_ tag: String) -> String {
        counter += 1
        return "\(runToken)-\(tag)-\(counter)"
    }

    /// A fresh directory under the work directory.
    func directory(_ name: String) throws -> String {
        counter += 1
        let path = "\(workDir)/\(name)-\(counter)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    // --- bundles ------------------------------------------------------------

    /// The busybox rootfs most containers share (Scripts/make-bundle, once).
    func rootfs() throws -> String {
        if let sharedRootfs { return sharedRootfs }
        let base = "\(workDir)/base"
        let made = commands.run(makeBundle, [base], seconds: 120)
        guard made.succeeded else { throw TortureError("\(makeBundle) \(base): \(made.summary)") }
        let data = try Data(contentsOf: URL(fileURLWithPath: base + "/config.json"))
        baseConfig = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        sharedRootfs = base + "/rootfs"
        return base + "/rootfs"
    }

    /// A bundle running `args`. `privateRootfs`: its own copy of the rootfs,
    /// for containers that change their files.
    func bundle(_ args: [String], terminal: Bool = false, privateRootfs: Bool = false, name: String = "bundle",
                edit: (inout [String: Any]) -> Void = { _ in }) throws -> String {
        let shared = try rootfs()
        let dir = try directory(name)
        var root = shared
        if privateRootfs {
            root = dir + "/rootfs"
            let copied = commands.run("/bin/cp", ["-a", shared, root], seconds: 60)
            guard copied.succeeded else { throw TortureError("cp -a \(shared) \(root): \(copied.summary)") }
        }
        var config = baseConfig ?? [:]
        var process = config["process"] as? [String: Any] ?? [:]
        process["args"] = args
        process["terminal"] = terminal
        config["process"] = process
        var rootEntry = config["root"] as? [String: Any] ?? [:]
        rootEntry["path"] = root
        rootEntry["readonly"] = false
        config["root"] = rootEntry
        edit(&config)
        let out = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted])
        try out.write(to: URL(fileURLWithPath: dir + "/config.json"))
        return dir
    }

    /// The rootfs a bundle's config.json names.
    func rootfs(ofBundle bundle: String) -> String {
        guard let data = FileManager.default.contents(atPath: bundle + "/config.json"),
              let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let root = config["root"] as? [String: Any], let path = root["path"] as? String else { return bundle + "/rootfs" }
        return path.hasPrefix("/") ? path : bundle + "/" + path
    }

    // --- programs -------------------------------------------------------------

    /// ocictl with this run's shim ($OCISHIM).
    func ocictl(_ arguments: [String], seconds: Double = 60) -> CommandResult {
        commands.run(ocictl, arguments, seconds: seconds, environment: ocictlEnvironment)
    }

    var ocictlEnvironment: [String] {
        commands.environment.filter { !$0.hasPrefix("OCISHIM=") } + ["OCISHIM=\(shim)"]
    }

    func runc(_ arguments: [String], seconds: Double = 30) -> CommandResult {
        commands.run(runcPath, arguments, seconds: seconds)
    }

    /// The runtime's status of `id` ("created", "running", "stopped",
    /// "paused"), nil when the runtime does not know it.
    func runtimeStatus(_ id: String) -> String? {
        let result = runc(["state", id])
        guard result.succeeded, let data = result.output.data(using: .utf8),
              let doc = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return doc["status"] as? String
    }

    /// The pid of the shim serving `stateDir` (from its state.json), tracked
    /// by the reaper as a new process.
    func shimPid(_ stateDir: String) -> pid_t? {
        guard let pid = StateJSON.shimPid(stateDir) else { return nil }
        reaper.track(pid)
        return pid
    }

    /// Polls `condition` every 20 ms for up to `seconds`.
    func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Clock.monotonicNanos() + Int64(seconds * 1e9)
        repeat {
            if condition() { return true }
            usleep(20_000)
        } while Clock.monotonicNanos() < deadline
        return condition()
    }
}

/// SplitMix64: reproducible runs (--seed).
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func seconds(since start: Int64) -> Double { Double(Clock.monotonicNanos() - start) / 1e9 }

func formatKB(_ kb: Int) -> String { kb >= 10240 ? "\(kb / 1024) MiB" : "\(kb) KiB" }
