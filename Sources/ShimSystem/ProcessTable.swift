import Glibc
import SystemPackage

/// The processes a shim watches: exits as its reaper reports them, signals
/// by kill(2). The shim's own is its ChildReaper (the shim is the subreaper
/// of the container's processes); tests drive the core with a table whose
/// exits they decide.
public protocol ProcessTable: AnyObject {
    /// Calls `handler` once `pid` has ended (on a later loop turn if it
    /// already has).
    func onExit(of pid: Int32, _ handler: @escaping (Termination) -> Void)
    /// No longer interested in `pid`'s end.
    func forget(_ pid: Int32)
    /// Collects ended children now instead of at the next SIGCHLD.
    func reap()
    /// kill(2); the errno when it fails.
    func signal(_ pid: Int32, _ signal: Int32) -> Errno?
}

extension ProcessTable {
    /// The process no longer exists (kill 0 says ESRCH): its end is coming.
    public func isGone(_ pid: Int32) -> Bool {
        pid > 0 && signal(pid, 0) == .noSuchProcess
    }
}

extension ChildReaper: ProcessTable {
    /// A process is the shim's child (the shim is a subreaper) until reaped,
    /// so its pid cannot have been reused while it is signalled here.
    public func signal(_ pid: Int32, _ signal: Int32) -> Errno? {
        Glibc.kill(pid, signal) == 0 ? nil : Errno(rawValue: errno)
    }
}
