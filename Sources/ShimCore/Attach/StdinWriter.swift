import Glibc
import Logging
import ShimSystem
import SystemPackage

/// Writes attach clients' input to a process's stdin without ever blocking
/// the loop: what the process does not take at once waits here and goes out
/// when the fd is writable again.
///
/// The writer owns a duplicate of the stdin fd. For a terminal that is the
/// pty master, whose original the output pump watches (one epoll watch per
/// fd number); closing stdin then closes only the duplicate, as conmon does.
/// Input given before the fd exists (an exec whose terminal has not arrived
/// yet) waits for `connect`.
final class StdinWriter {
    /// Above this many pending bytes, sources that can wait (attach socket
    /// clients) stop reading until `onRoom` says the process caught up.
    static let pauseThreshold = 1 << 20
    /// Above this, input from sources that cannot wait is refused.
    static let hardLimit = 8 << 20

    private let log: Logger
    private let label: String
    /// The duplicate written to; nil before `connect` and after closing.
    private var fd: FileDescriptor?
    /// Input the process has not taken yet; holds what comes before `connect`.
    private let input: WriteQueue
    /// No more input: the fd closes once what is pending is written.
    private(set) var closing = false
    private(set) var closed = false
    /// Runs once when stdin closes, for whatever reason: the owner closes
    /// the process's end too (for pipes, that is what delivers EOF).
    var onClose: (() -> Void)?
    /// Waiting for pending input to fall below the pause threshold.
    private var roomWaiters: [() -> Void] = []

    init(loop: EventLoop, log: Logger, label: String) {
        self.log = log
        self.label = label
        input = WriteQueue(loop: loop, limit: Self.hardLimit)
        input.onDrained = { [unowned self] in
            if closing { return closeNow() }
            wakeRoomWaiters()
        }
        input.onFailed = { [unowned self] error, dropped in
            // EPIPE: nobody reads the process's stdin any more.
            log.info("\(label): stdin is gone (\(error)); \(dropped) bytes of input dropped")
            closeNow()
        }
    }

    var pendingBytes: Int { input.pendingBytes }
    var hasRoom: Bool { pendingBytes < Self.pauseThreshold }
    var acceptsInput: Bool { !closing && !closed }

    /// Starts writing to a duplicate of `stdinFD`.
    func connect(_ stdinFD: FileDescriptor) {
        guard fd == nil, !closed else { return }
        let copy = fcntl(stdinFD.rawValue, F_DUPFD_CLOEXEC, 3)
        guard copy >= 0 else {
            log.warning("\(label): cannot duplicate stdin: \(SystemError("dup")); input is dropped")
            closeNow()
            return
        }
        _ = fcntl(copy, F_SETFL, fcntl(copy, F_GETFL) | O_NONBLOCK)
        fd = FileDescriptor(rawValue: copy)
        input.connect(FileDescriptor(rawValue: copy))
        // Closed before it was connected, with nothing to write first.
        if closing && pendingBytes == 0 { closeNow() }
    }

    /// Queues input; false when it was refused (closed, or over the limit).
    @discardableResult
    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard acceptsInput else { return false }
        return input.append(bytes) == .accepted
    }

    @discardableResult
    func write<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        if let result = bytes.withContiguousStorageIfAvailable({ write(UnsafeRawBufferPointer($0)) }) { return result }
        return Array(bytes).withUnsafeBytes { write($0) }
    }

    /// Calls `body` once pending input is below the pause threshold.
    func whenRoom(_ body: @escaping () -> Void) {
        if hasRoom { return body() }
        roomWaiters.append(body)
    }

    /// Closes stdin once pending input is written (at once if nothing is
    /// pending; input given before `connect` is written first).
    func close() {
        guard !closed else { return }
        closing = true
        // Not connected yet: `connect` writes what is pending, then closes.
        if fd != nil && pendingBytes == 0 { closeNow() }
    }

    /// Drops pending input and closes now (the process is gone).
    func stop() {
        closeNow()
    }

    private func wakeRoomWaiters() {
        guard hasRoom, !roomWaiters.isEmpty else { return }
        let waiters = roomWaiters
        roomWaiters = []
        for waiter in waiters { waiter() }
    }

    private func closeNow() {
        guard !closed else { return }
        closed = true
        closing = true
        input.close()
        try? fd?.close()
        fd = nil
        let done = onClose
        onClose = nil
        done?()
        // Paused sources resume and find stdin closed.
        let waiters = roomWaiters
        roomWaiters = []
        for waiter in waiters { waiter() }
    }
}
