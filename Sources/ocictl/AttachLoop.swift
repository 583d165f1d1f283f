import CShimSys
import Glibc
import ShimClient
import ShimCore
import ShimProtocol
import ShimSystem

/// The terminal side of `ocictl attach`, `run` and `exec`: the Attach
/// stream's output to our stdout/stderr, our stdin to the stream, SIGWINCH as
/// a resize, and signals proxied to the process. A real terminal on our
/// stdin is put into raw mode while attached to a process with a terminal,
/// so keys (ctrl-c, the detach keys) reach it; attached to a process without
/// one, it keeps its line editing and ctrl-c, and the last detach key ends a
/// line so that the detach keys take effect when typed (LineTerminal).
final class AttachLoop {
    enum Outcome: Equatable {
        case exited(Int32)
        case detached
        /// The stream ended without saying why (the shim went away).
        case ended
    }

    /// The signals proxied to the process (podman's --sig-proxy forwards
    /// every catchable signal; these are the ones a terminal or a
    /// supervisor sends).
    static let proxiedSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]

    private let client: ShimClient
    private let stream: ClientStream
    private let forwardStdin: Bool
    private let remoteTerminal: Bool
    private let detachKeys: [UInt8]
    private let proxy: ((Int32) -> Void)?
    private let loop: EventLoop
    private var signals: SignalSource?
    private var outcome: Outcome?
    private var failure: Error?

    /// `proxy` receives the signals of `proxiedSignals` instead of this
    /// process (nil: they act on ocictl as usual). `detachKeys`: the
    /// sequence in effect, for the terminal's line mode.
    init(client: ShimClient, stream: ClientStream, forwardStdin: Bool, remoteTerminal: Bool,
         detachKeys: [UInt8] = DetachKeys.default.bytes, proxy: ((Int32) -> Void)? = nil) throws {
        self.client = client
        self.stream = stream
        self.forwardStdin = forwardStdin
        self.remoteTerminal = remoteTerminal
        self.detachKeys = detachKeys
        self.proxy = proxy
        loop = try EventLoop()
    }

    /// Holds the proxied signals from now on (they are delivered to the
    /// proxy once `run` starts), for a caller about to start the process.
    static func holdProxiedSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in proxiedSignals { sigaddset(&set, signal) }
        sigprocmask(SIG_BLOCK, &set, nil)
    }

    /// Runs until the process exits, the detach keys are typed, or the
    /// stream ends.
    func run() throws -> Outcome {
        let localTerminal = forwardStdin && isatty(0) == 1
        let raw = remoteTerminal && localTerminal ? RawTerminal(fd: 0) : nil
        let lines = !remoteTerminal && localTerminal ? LineTerminal(fd: 0, detachKeys: detachKeys) : nil
        let stdinFlags = fcntl(0, F_GETFL)
        defer {
            raw?.restore()
            lines?.restore()
            // The file description is shared with the shell: leave it blocking
            // as it was.
            if forwardStdin && stdinFlags >= 0 { _ = fcntl(0, F_SETFL, stdinFlags) }
        }
        if remoteTerminal || proxy != nil {
            let signals = try SignalSource(loop: loop)
            if remoteTerminal { try signals.on(SIGWINCH) { [unowned self] _ in sendSize() } }
            if let proxy {
                for signal in Self.proxiedSignals { try signals.on(signal) { proxy($0.signal) } }
            }
            self.signals = signals
        }
        if remoteTerminal { sendSize() }
        if forwardStdin { try watchStdin() }
        try loop.watch(client.connection.readFD, .readable) { [unowned self] _ in readOutput() }
        // Frames that came while the caller made calls on this connection
        // wait in the client, where epoll does not see them.
        readOutput()
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
            try loop.watch(.standardInput, .readable) { [unowned self] _ in readStdin() }
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
            loop.unwatch(.standardInput)
            try stream.closeSend()
        } catch {
            failure = error
        }
        return false
    }

    /// Sends the local terminal's size (a caller about to start the
    /// process sends it first, so the process starts with it).
    func sendSize() {
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
                    try? FileSystem.writeAll(fd: message.stream == .stderr ? .standardError : .standardOutput, bytes, what: "output")
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
    try? FileSystem.writeAll(fd: .standardError, Array(text.utf8), what: "stderr")
}
