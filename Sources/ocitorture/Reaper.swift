import CShimSys
import Glibc
import ShimSystem

/// The suite is a child subreaper: every shim (which detaches by forking, so
/// its first parent exits at once) and every container process whose shim
/// died is re-parented to it. A shim's end is then seen with its wait status:
/// a trap (SIGILL, SIGTRAP, SIGSEGV) is reported as a crash, not as a process
/// that went away.
///
/// Only the main thread waits for children, and all waiting goes through
/// here, so no status is lost to a stray `waitpid(-1)`.
final class Reaper {
    private var ended: [pid_t: Termination] = [:]

    init() throws {
        guard ocishim_set_child_subreaper() == 0 else {
            throw TortureError("prctl(PR_SET_CHILD_SUBREAPER): \(String(cString: strerror(errno)))")
        }
    }

    /// Collects every child that has ended.
    func collect() {
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            ended[pid] = Termination(waitStatus: status)
        }
    }

    /// A pid just learnt (spawned, or a shim's from Hello): an end recorded
    /// for an earlier process with the same number is forgotten.
    func track(_ pid: pid_t) {
        ended[pid] = nil
    }

    /// How `pid` ended, if it was a child of the suite and has ended.
    func termination(of pid: pid_t) -> Termination? {
        collect()
        return ended[pid]
    }

    /// Alive and not a zombie.
    func alive(_ pid: pid_t) -> Bool {
        guard pid > 0, termination(of: pid) == nil else { return false }
        return ProcInfo.alive(pid)
    }

    /// Waits up to `seconds` for `pid` to end; nil while it still runs. A
    /// process that is not the suite's child reports `.exited(-1)` once gone.
    func wait(_ pid: pid_t, seconds: Double) -> Termination? {
        let deadline = Clock.monotonicNanos() + Int64(seconds * 1e9)
        while true {
            if let end = termination(of: pid) { return end }
            if Glibc.kill(pid, 0) != 0 && errno == ESRCH {
                // Gone, and not reaped here: not a child of the suite.
                return termination(of: pid) ?? .exited(-1)
            }
            if Clock.monotonicNanos() >= deadline { return nil }
            usleep(2_000)
        }
    }

    /// SIGKILLs `pid` and waits for it (at most 10 s).
    @discardableResult
    func kill(_ pid: pid_t) -> Termination? {
        guard pid > 0 else { return nil }
        _ = Glibc.kill(pid, SIGKILL)
        return wait(pid, seconds: 10)
    }
}

struct TortureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
