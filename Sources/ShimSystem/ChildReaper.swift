import Glibc

/// How a process ended.
public enum Termination: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public init(waitStatus status: Int32) {
        // WIFEXITED / WEXITSTATUS / WTERMSIG, spelled out (macros).
        if status & 0x7f == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signaled(status & 0x7f)
        }
    }

    /// The code conmon reports: the exit status, or 128 + the signal.
    public var exitCode: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let sig): 128 + sig
        }
    }

    /// "exit status 1" / "killed by signal 9" for a raw wait status.
    public static func describe(waitStatus status: Int32) -> String {
        Termination(waitStatus: status).description
    }

    public var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .signaled(let sig): "killed by signal \(sig)"
        }
    }
}

/// Reaps every child of the shim (as a subreaper that includes the container's
/// init and exec processes once the runtime exits) and routes each exit to the
/// one party waiting for that pid.
public final class ChildReaper {
    private var waiters: [pid_t: (Termination) -> Void] = [:]
    /// Exits nobody waited for yet: a container init can die before the pid
    /// file naming it has been read. Bounded; grandchildren of the runtime
    /// also land here.
    private var unclaimed: [(pid: pid_t, termination: Termination)] = []
    private let unclaimedLimit = 256
    private let loop: EventLoop

    public init(loop: EventLoop, signals: SignalSource) throws(SystemError) {
        self.loop = loop
        try signals.on(SIGCHLD) { [unowned self] _ in self.reap() }
    }

    /// Calls `handler` once `pid` has been reaped. If it already was, the
    /// handler runs on the next loop turn.
    public func onExit(of pid: pid_t, _ handler: @escaping (Termination) -> Void) {
        if let i = unclaimed.firstIndex(where: { $0.pid == pid }) {
            let termination = unclaimed.remove(at: i).termination
            loop.soon { handler(termination) }
            return
        }
        waiters[pid] = handler
    }

    /// Takes back interest in `pid` (its exit will be kept as unclaimed).
    public func forget(_ pid: pid_t) { waiters[pid] = nil }

    /// Whether `pid` was reaped without anyone waiting for it yet.
    public func hasUnclaimedExit(_ pid: pid_t) -> Bool { unclaimed.contains { $0.pid == pid } }

    /// Reaps all exited children now. Runs on SIGCHLD; also callable after a
    /// spawn failure path to be sure nothing lingers.
    public func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            let termination = Termination(waitStatus: status)
            if let handler = waiters.removeValue(forKey: pid) {
                handler(termination)
            } else {
                unclaimed.append((pid, termination))
                if unclaimed.count > unclaimedLimit { unclaimed.removeFirst() }
            }
        }
    }
}
