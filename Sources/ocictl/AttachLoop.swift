import CShimSys
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// The terminal side of `ocictl attach` and `ocictl exec`: the Attach
/// stream's output to our stdout/stderr, our stdin to the stream, SIGWINCH as
/// a resize. A real terminal on our stdin is put into raw mode while attached
/// to a process with a terminal, so keys (ctrl-c, the detach keys) reach it.
final class AttachLoop {
    enum Outcome: Equatable {
        case exited(Int32)
        case detached
        /// The stream ended without saying why (the shim went away).
        case ended
    }

    private let client: ShimClient
    private let stream: ClientStream
    private let forwardStdin: Bool
    private let remoteTerminal: Bool
    private let loop: EventLoop
    private var signals: SignalSource?
    private var outcome: Outcome?
    private var failure: Error?

    init(client: ShimClient, stream: ClientStream, forwardStdin: Bool, remoteTerminal: Bool) throws {
        self.client = client
        self.stream = stream
        self.forwardStdin = forwardStdin
        self.remoteTerminal = remoteTerminal
        loop = try EventLoop()
    }

    /// Runs until the process exits, the detach keys are typed, or the
    /// stream ends.
    func run() throws -> Outcome {
        let raw = remoteTerminal && forwardStdin && isatty(0) == 1 ? RawTerminal(fd: 0) : nil
        defer { raw?.restore() }
        if remoteTerminal {
            let signals = try SignalSource(loop: loop)
            try signals.on(SIGWINCH) { [unowned self] _ in sendSize() }
            self.signals = signals
            sendSize()
        }
        if forwardStdin { try watchStdin() }
        try loop.watch(client.connection.readFD, .readable) { [unowned self] _ in readOutput() }
        while outcome == nil && failure == nil {
            loop.run(until: { outcome != nil || failure != nil }, timeoutNanos: 3_600_000_000_000)
        }
        if let failure { throw failure }
        return outcome ?? .ended
    }

    // --- input ------------------------------------------------------------------

    private func watchStdin() throws {
        _ = fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK)
        do {
            try loop.watch(0, .readable) { [unowned self] _ in readStdin() }
        } catch {
            // A regular file or /dev/null: epoll cannot watch it, and it
            // never blocks; send it all now.
            while readStdin() {}
        }
    }

    /// Sends what stdin has; false at its end.
    @discardableResult
    private func readStdin() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 32 << 10)
        let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return true }
        do {
            if n > 0 {
                try stream.send(Ocishim_V1_AttachInput.with { $0.stdin = .init(buffer[0..<n]) })
                return true
            }
            loop.unwatch(0)
            try stream.closeSend()
        } catch {
            failure = error
        }
        return false
    }

    private func sendSize() {
        var rows: UInt16 = 0, columns: UInt16 = 0
        guard ocishim_get_winsize(isatty(0) == 1 ? 0 : 1, &rows, &columns) == 0 else { return }
        do {
            try stream.send(Ocishim_V1_AttachInput.with { $0.resize = .with { $0.height = UInt32(rows); $0.width = UInt32(columns) } })
        } catch {
            failure = error
        }
    }

    // --- output -----------------------------------------------------------------

    private func readOutput() {
        do {
            while outcome == nil {
                guard let message = try stream.next(Ocishim_V1_AttachOutput.self, timeoutSeconds: 0) else {
                    outcome = .ended
                    return
                }
                if !message.data.isEmpty {
                    let bytes = [UInt8](message.data)
                    try? FileSystem.writeAll(fd: message.stream == .stderr ? 2 : 1, bytes, what: "output")
                }
                if message.dropped > 0 {
                    writeErr("ocictl: \(message.dropped) bytes of earlier output were dropped by the shim\n")
                }
                if message.exited { outcome = .exited(message.exitCode) }
                if message.detached { outcome = .detached }
            }
        } catch ClientError.timedOut {
            return
        } catch {
            failure = error
        }
    }
}

func writeErr(_ text: String) {
    try? FileSystem.writeAll(fd: 2, Array(text.utf8), what: "stderr")
}

/// A terminal in raw mode until `restore`.
final class RawTerminal {
    private let fd: Int32
    private var saved = termios()
    private var active = false

    init?(fd: Int32) {
        self.fd = fd
        guard tcgetattr(fd, &saved) == 0 else { return nil }
        var raw = saved
        cfmakeraw(&raw)
        guard tcsetattr(fd, TCSANOW, &raw) == 0 else { return nil }
        active = true
    }

    func restore() {
        guard active else { return }
        active = false
        _ = tcsetattr(fd, TCSANOW, &saved)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    }

    deinit { restore() }
}
