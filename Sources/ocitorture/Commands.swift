import Foundation
import Glibc
import ShimSystem

/// External programs (ocictl, runc, mount) run to completion with a time
/// bound. Their output goes to a file, never to a pipe: a detached shim that
/// keeps its spawner's stderr would hold a pipe open long after `ocictl
/// create` exits (issue "Trust defects" item 6, which the detached-stdio
/// check measures on its own).
struct CommandResult {
    /// nil: still running when the time bound passed (it was then killed).
    var termination: Termination?
    var output: String
    var seconds: Double

    var succeeded: Bool { termination == .exited(0) }
    var timedOut: Bool { termination == nil }
    var summary: String {
        let how = termination.map { "\($0)" } ?? "no answer within the bound (killed)"
        let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? how : "\(how): \(text.count > 400 ? String(text.prefix(400)) + "..." : text)"
    }
}

final class Commands {
    let reaper: Reaper
    let scratch: String
    private var count = 0
    static let devNull: Int32 = open("/dev/null", O_RDWR | O_CLOEXEC)

    init(reaper: Reaper, scratch: String) {
        self.reaper = reaper
        self.scratch = scratch
    }

    var environment: [String] { ProcessEnvironment.current() }

    /// Starts `path` with stdin on /dev/null and stdout+stderr on `output`
    /// (a file path; /dev/null when nil). The caller waits through the reaper.
    func start(_ path: String, _ arguments: [String], output: String? = nil, environment: [String]? = nil,
               directory: String? = nil) throws -> pid_t {
        let fd = output.map { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) } ?? Self.devNull
        guard fd >= 0 else { throw TortureError("cannot open \(output ?? "/dev/null"): \(String(cString: strerror(errno)))") }
        defer { if fd != Self.devNull { close(fd) } }
        var options = SpawnOptions(path: path, arguments: [path] + arguments,
                                   environment: environment ?? self.environment, directory: directory)
        options.fds = SpawnOptions.fdTable([(0, Self.devNull), (1, fd), (2, fd)])
        let pid: pid_t
        do { pid = try Spawner.spawn(options) } catch { throw TortureError("\(error)") }
        reaper.track(pid)
        return pid
    }

    /// Runs to completion (SIGKILLed after `seconds`) and returns what it printed.
    func run(_ path: String, _ arguments: [String], seconds: Double = 60, environment: [String]? = nil,
             directory: String? = nil) -> CommandResult {
        count += 1
        let out = "\(scratch)/command-\(count).out"
        let began = Clock.monotonicNanos()
        let pid: pid_t
        do { pid = try start(path, arguments, output: out, environment: environment, directory: directory) } catch {
            return CommandResult(termination: .exited(127), output: "\(error)", seconds: 0)
        }
        let end = reaper.wait(pid, seconds: seconds)
        if end == nil { reaper.kill(pid) }
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        unlink(out)
        return CommandResult(termination: end, output: text, seconds: Double(Clock.monotonicNanos() - began) / 1e9)
    }
}
