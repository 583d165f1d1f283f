import Glibc
import ShimSystem

/// The OCI runtime a shim recorded in its state.json (path, --root, global
/// options): how ocictl reaches a container once its shim is gone, as
/// podman's ConmonOCIRuntime (libpod/oci_conmon_linux.go) runs `runc state`,
/// `kill` and `delete` itself rather than through conmon.
struct RecordedRuntime {
    let path: String
    let root: String?
    let args: [String]

    var name: String { FileSystem.basename(of: path) }

    /// What `<runtime> state` says of a container it knows.
    struct View {
        let status: String
        let pid: Int32
        let bundle: String
        let document: JSONValue
    }

    /// nil when the runtime does not know `id` (never created, or deleted).
    func state(_ id: String) throws -> View? {
        let outcome = try run(["state", id])
        guard outcome.succeeded else {
            if Self.saysUnknown(outcome.stderr) { return nil }
            throw CLIError("\(name) state \(id) failed: \(outcome.message)")
        }
        guard let doc = try? JSONValue(parsing: outcome.stdout), let status = doc["status"]?.stringValue else {
            throw CLIError("\(name) state \(id) printed no state: \(String(decoding: outcome.stdout, as: UTF8.self))")
        }
        return View(status: status, pid: Int32(doc["pid"]?.intValue ?? 0),
                    bundle: doc["bundle"]?.stringValue ?? "", document: doc)
    }

    func kill(_ id: String, signal: UInt32, all: Bool) throws {
        let outcome = try run(["kill"] + (all ? ["--all"] : []) + [id, "\(signal)"])
        guard outcome.succeeded else { throw CLIError("\(name) kill \(id) failed: \(outcome.message)") }
    }

    /// `delete --force`: kills what still runs, then forgets the container.
    /// A runtime that no longer knows it is not an error.
    func delete(_ id: String) throws {
        let outcome = try run(["delete", "--force", id])
        guard outcome.succeeded || Self.saysUnknown(outcome.stderr) else {
            throw CLIError("\(name) delete --force \(id) failed: \(outcome.message)")
        }
    }

    /// runc's "container does not exist", crun's "... not found" (the
    /// shim's RuntimeCommandLine.state reads them the same way).
    private static func saysUnknown(_ stderr: String) -> Bool {
        stderr.contains("does not exist") || (stderr.contains("not found") && stderr.contains("container"))
    }

    private func run(_ arguments: [String]) throws -> CommandOutcome {
        try CommandOutcome.run(path, (root.map { ["--root", $0] } ?? []) + args + arguments)
    }
}

/// A short program run to its end with stdout and stderr captured apart;
/// killed after `timeoutSeconds` rather than left to hang ocictl.
struct CommandOutcome {
    var waitStatus: Int32 = 0
    var stdout: [UInt8] = []
    var stderrBytes: [UInt8] = []
    var timedOut = false

    var succeeded: Bool { !timedOut && waitStatus == 0 }
    var stderr: String { String(decoding: stderrBytes, as: UTF8.self) }
    /// Its last words, for an error message.
    var message: String {
        if timedOut { return "timed out" }
        let text = stderr.split(separator: "\n").last.map(String.init) ?? ""
        return text.isEmpty ? Termination.describe(waitStatus: waitStatus) : text
    }

    static func run(_ path: String, _ arguments: [String], timeoutSeconds: Int64 = 60) throws -> CommandOutcome {
        let output: (read: Int32, write: Int32), errors: (read: Int32, write: Int32)
        do {
            let (outRead, outWrite) = try Pipe.make(), (errRead, errWrite) = try Pipe.make()
            output = (outRead.rawValue, outWrite.rawValue)
            errors = (errRead.rawValue, errWrite.rawValue)
        } catch {
            throw CLIError("cannot run \(path): \(error)")
        }
        let devnull = open("/dev/null", O_RDWR | O_CLOEXEC)
        var options = SpawnOptions(path: path, arguments: [path] + arguments, environment: ProcessEnvironment.current())
        options.fds = SpawnOptions.fdTable([(0, devnull), (1, output.write), (2, errors.write)])
        let pid: pid_t
        do {
            pid = try Spawner.spawn(options)
        } catch {
            for fd in [devnull, output.write, errors.write, output.read, errors.read] { close(fd) }
            throw CLIError("cannot run \(path): \(error)")
        }
        for fd in [devnull, output.write, errors.write] { close(fd) }
        var outcome = CommandOutcome()
        outcome.collect(output.read, errors.read, deadline: Clock.monotonicNanos() + timeoutSeconds * 1_000_000_000)
        if outcome.timedOut { Glibc.kill(pid, SIGKILL) }
        while waitpid(pid, &outcome.waitStatus, 0) < 0 && errno == EINTR {}
        return outcome
    }

    /// What is kept of each stream (runtimes print a few lines).
    private static let limit = 1 << 20

    /// Reads both pipes until both are closed or the deadline passes.
    private mutating func collect(_ out: Int32, _ err: Int32, deadline: Int64) {
        var open = [out, err]
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while open.contains(where: { $0 >= 0 }) {
            let left = (deadline - Clock.monotonicNanos()) / 1_000_000
            if left <= 0 {
                timedOut = true
                break
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&fds, 2, Int32(clamping: left)) < 0 {
                if errno == EINTR { continue }
                break
            }
            for i in 0..<2 where fds[i].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(open[i], $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    close(open[i])
                    open[i] = -1
                } else if i == 0 {
                    if stdout.count < Self.limit { stdout += buffer[0..<n] }
                } else {
                    if stderrBytes.count < Self.limit { stderrBytes += buffer[0..<n] }
                }
            }
        }
        for fd in open where fd >= 0 { close(fd) }
    }
}
