import Foundation
import Glibc
import ShimSystem

/// runc alone, the baseline the monitors add to: `runc create` + `runc
/// start` with the container's stdio on /dev/null, the exit seen by the
/// bench itself (it is the container's subreaper once `runc create` has
/// exited), and `runc run` in the foreground.
struct RawRunc {
    let runc: String

    struct Timing {
        var createToRunning: Double
        var startToExit: Double
    }

    /// Seconds: create → running, start → exit reaped.
    func createStartWait(id: String, bundle: String, dir: String) throws -> Timing {
        let pidFile = dir + "/raw.pid"
        let t0 = Clock.monotonicNanos()
        try Processes.runQuiet(runc, ["create", "--bundle", bundle, "--pid-file", pidFile, id])
        defer { _ = try? Processes.run(runc, ["delete", "--force", id], allowFailure: true) }
        guard let pid = pid_t((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BenchError("runc create left no pid in \(pidFile)")
        }
        let t1 = Clock.monotonicNanos()
        try Processes.run(runc, ["start", id])
        let t2 = Clock.monotonicNanos()
        Processes.wait(pid)
        let t3 = Clock.monotonicNanos()
        return Timing(createToRunning: Double(t2 - t0) / 1e9, startToExit: Double(t3 - t1) / 1e9)
    }

    /// `runc create` + `runc start` of a container that keeps running:
    /// seconds from create to running, and its init's pid (the bench's
    /// child once `runc create` has exited: the bench is a subreaper).
    func createStart(id: String, bundle: String, dir: String) throws -> (seconds: Double, pid: pid_t) {
        let pidFile = dir + "/raw.pid"
        let t0 = Clock.monotonicNanos()
        try Processes.runQuiet(runc, ["create", "--bundle", bundle, "--pid-file", pidFile, id])
        guard let pid = pid_t((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            _ = try? Processes.run(runc, ["delete", "--force", id], allowFailure: true)
            throw BenchError("runc create left no pid in \(pidFile)")
        }
        do {
            try Processes.run(runc, ["start", id])
        } catch {
            remove(id: id, pid: pid)
            throw error
        }
        return (Double(Clock.monotonicNanos() - t0) / 1e9, pid)
    }

    /// Kills a container of `createStart`, reaps its init and deletes it.
    func remove(id: String, pid: pid_t) {
        kill(pid, SIGKILL)
        Processes.wait(pid)
        _ = try? Processes.run(runc, ["delete", "--force", id], allowFailure: true)
    }

    /// Seconds for `runc run` (create, start, wait, delete) in the foreground.
    func run(id: String, bundle: String) throws -> Double {
        let t0 = Clock.monotonicNanos()
        try Processes.runQuiet(runc, ["run", "--bundle", bundle, id])
        return Double(Clock.monotonicNanos() - t0) / 1e9
    }

    /// Seconds for `runc exec` of `args` in a running container.
    func exec(id: String, _ args: [String]) throws -> Double {
        let t0 = Clock.monotonicNanos()
        try Processes.run(runc, ["exec", id] + args)
        return Double(Clock.monotonicNanos() - t0) / 1e9
    }

    /// Seconds for one `runc state`.
    func state(id: String) throws -> Double {
        let t0 = Clock.monotonicNanos()
        try Processes.run(runc, ["state", id])
        return Double(Clock.monotonicNanos() - t0) / 1e9
    }
}
