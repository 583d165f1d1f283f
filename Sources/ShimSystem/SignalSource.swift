import CShimSys
import Glibc
import SystemPackage

/// Delivers signals through the event loop (signalfd): the signals are blocked
/// for normal delivery and read from an fd instead, so handlers run in the loop
/// like any other event and never interrupt it.
public final class SignalSource {
    public struct Delivery: Sendable {
        public let signal: Int32
        /// The sender (for SIGCHLD, the child).
        public let pid: Int32
    }

    private let loop: EventLoop
    private let fd: FileDescriptor
    private var handlers: [Int32: (Delivery) -> Void] = [:]
    private var mask = sigset_t()

    public init(loop: EventLoop) throws(SystemError) {
        self.loop = loop
        var empty = sigset_t()
        sigemptyset(&empty)
        fd = FileDescriptor(rawValue: try sysCall("signalfd") { signalfd(-1, &empty, Int32(SFD_CLOEXEC | SFD_NONBLOCK)) })
        mask = empty
        try loop.watch(fd, .readable) { [unowned self] _ in self.drain() }
    }

    deinit {
        loop.unwatch(fd)
        try? fd.close()
    }

    /// Routes `signal` to `handler` from now on.
    public func on(_ signal: Int32, _ handler: @escaping (Delivery) -> Void) throws(SystemError) {
        handlers[signal] = handler
        sigaddset(&mask, signal)
        var block = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, signal)
        sigprocmask(SIG_BLOCK, &block, nil)
        try sysCall("signalfd") { signalfd(fd.rawValue, &mask, 0) }
    }

    /// Ignores signals that must never end the shim (SIGPIPE from a vanished
    /// client, SIGHUP from a closed terminal or session).
    public static func ignore(_ signals: [Int32]) {
        for s in signals { signal(s, SIG_IGN) }
    }

    private func drain() {
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        while true {
            let n = withUnsafeMutableBytes(of: &info) { read(fd.rawValue, $0.baseAddress, size) }
            guard n == size else { return }
            let delivery = Delivery(signal: Int32(info.ssi_signo), pid: Int32(bitPattern: info.ssi_pid))
            handlers[delivery.signal]?(delivery)
        }
    }
}
