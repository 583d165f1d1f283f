import Glibc
import Logging
import ShimSystem
import SystemPackage

/// fds an engine opened for a process's stdio, which the shim copies to and
/// from (containerd hands its shims FIFO paths; its runc shim copies between
/// them and the container's pipes or terminal, pkg/process/io.go). The core
/// takes them over: they are closed when the relay ends. nil: none.
public struct RelayedStdio: Sendable, Equatable {
    /// Read until EOF; what is read goes to the process's stdin, and EOF
    /// closes the process's stdin.
    public var stdin: FileDescriptor?
    /// Closed when the engine says it is done writing (`closeStdin`): an fd
    /// the engine's side holds on the stdin source so that it does not see
    /// EOF before then (containerd's shims hold a write end of the stdin
    /// FIFO until CloseIO). EOF then reaches the process after the data.
    public var stdinHold: FileDescriptor?
    /// The process's output is written here (a terminal's all to stdout).
    /// Closed once the process's output has ended and all of it was written.
    public var stdout: FileDescriptor?
    public var stderr: FileDescriptor?

    public init(stdin: FileDescriptor? = nil, stdinHold: FileDescriptor? = nil,
                stdout: FileDescriptor? = nil, stderr: FileDescriptor? = nil) {
        self.stdin = stdin
        self.stdinHold = stdinHold
        self.stdout = stdout
        self.stderr = stderr
    }

    public var hasStdin: Bool { stdin != nil }

    /// Closes every fd (a create or exec that failed before the relay ran).
    public func closeAll() {
        for fd in [stdin, stdinHold, stdout, stderr] { try? fd?.close() }
    }
}

/// Copies between a process and the fds of a `RelayedStdio`, on the loop,
/// never blocking it. Unlike attach clients, the relay holds the process up
/// when its reader is slow (the engine's copy is the process's only
/// output, as with containerd's runc shim): while more than
/// `pauseThreshold` bytes wait for an output fd, `onBackpressure(true)`
/// asks the owner to stop reading the process's output, and
/// `onBackpressure(false)` to read on once they are written. Input waits
/// likewise while the process does not take its stdin.
final class StdioRelay {
    static let pauseThreshold = 1 << 20
    /// What may wait per output: beyond the pause threshold, only what a
    /// process's pipes still held at its exit (read whole then) comes in.
    static let outputLimit = 16 << 20

    private let loop: EventLoop
    private let scratch: ScratchBuffer
    private let log: Logger
    private let label: String
    private var outputs: [LogStream: Output] = [:]
    private var stdinFD: FileDescriptor?
    private var stdinHold: FileDescriptor?
    private weak var stdin: StdinWriter?
    private var readingStdin = false
    private var paused = false
    private var outputEnded = false
    /// true: stop reading the process's output; false: read on.
    var onBackpressure: ((Bool) -> Void)?

    private final class Output {
        let fd: FileDescriptor
        let queue: WriteQueue
        var closed = false
        var dropped = 0
        init(fd: FileDescriptor, queue: WriteQueue) {
            self.fd = fd
            self.queue = queue
        }
    }

    init(_ fds: RelayedStdio, loop: EventLoop, scratch: ScratchBuffer, log: Logger, label: String) {
        self.loop = loop
        self.scratch = scratch
        self.log = log
        self.label = label
        stdinFD = fds.stdin
        stdinHold = fds.stdinHold
        for (fd, stream) in [(fds.stdout, LogStream.stdout), (fds.stderr, LogStream.stderr)] {
            guard let fd else { continue }
            _ = fcntl(fd.rawValue, F_SETFL, fcntl(fd.rawValue, F_GETFL) | O_NONBLOCK)
            let output = Output(fd: fd, queue: WriteQueue(fd: fd, loop: loop, limit: Self.outputLimit))
            output.queue.onDrained = { [unowned self] in drained() }
            output.queue.onFailed = { [unowned self, unowned output] error, dropped in
                log.warning("\(label): cannot write its \(stream.name) on (\(error)); \(dropped) bytes dropped, later output discarded")
                closeOutput(output)
                drained()
            }
            outputs[stream] = output
        }
    }

    var hasOutput: Bool { !outputs.isEmpty }
    var pendingOutput: Int { outputs.values.reduce(0) { $0 + $1.queue.pendingBytes } }

    // --- output -----------------------------------------------------------------

    /// A chunk of the process's output (a terminal's is all stdout).
    func output(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer) {
        guard let output = outputs[stream], !output.closed else { return }
        if output.queue.append(chunk) != .accepted {
            output.dropped += chunk.count
            log.warning("\(label): its \(stream.name) reader is \(output.queue.pendingBytes) bytes behind; \(chunk.count) bytes dropped")
        }
        if !paused && pendingOutput > Self.pauseThreshold {
            paused = true
            onBackpressure?(true)
        }
    }

    /// The process's output has ended (EOF, or its stdio was closed): each
    /// output fd closes once what waits for it is written, so the reader
    /// sees EOF after the last byte.
    func finishOutput() {
        guard !outputEnded else { return }
        outputEnded = true
        for output in outputs.values where output.queue.isEmpty { closeOutput(output) }
    }

    private func drained() {
        if outputEnded {
            for output in outputs.values where output.queue.isEmpty { closeOutput(output) }
        }
        if paused && pendingOutput <= Self.pauseThreshold {
            paused = false
            onBackpressure?(false)
        }
    }

    private func closeOutput(_ output: Output) {
        guard !output.closed else { return }
        output.closed = true
        output.queue.close()
        try? output.fd.close()
    }

    // --- input ------------------------------------------------------------------

    /// Starts copying the stdin source to `writer` (the process's stdin).
    /// Without a source, nothing happens.
    func connectStdin(_ writer: StdinWriter?) {
        guard let stdinFD else { return }
        guard let writer, writer.acceptsInput else {
            log.debug("\(label): the process has no stdin; its relayed stdin is not read")
            return closeStdinSource()
        }
        stdin = writer
        _ = fcntl(stdinFD.rawValue, F_SETFL, fcntl(stdinFD.rawValue, F_GETFL) | O_NONBLOCK)
        watchStdin()
    }

    /// The engine is done writing: its hold goes, and the process sees EOF
    /// once what was written before is read. Without a relayed stdin,
    /// returns false (the caller closes the process's stdin itself).
    func endInput() -> Bool {
        guard stdinFD != nil || stdinHold != nil else { return false }
        try? stdinHold?.close()
        stdinHold = nil
        return true
    }

    private func watchStdin() {
        guard let stdinFD, !readingStdin else { return }
        do {
            try loop.watch(stdinFD, .readable) { [unowned self] _ in readStdin() }
            readingStdin = true
        } catch {
            log.warning("\(label): cannot watch its relayed stdin: \(error); it gets EOF")
            inputEnded()
        }
    }

    private func readStdin() {
        guard let writer = stdin, writer.acceptsInput, let stdinFD else { return closeStdinSource() }
        let buffer = scratch.bytes
        for _ in 0..<16 {
            let n = read(stdinFD.rawValue, buffer.baseAddress, buffer.count)
            if n > 0 {
                if !writer.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) {
                    log.warning("\(label): its stdin does not take input any more; \(n) bytes of relayed stdin dropped")
                    return closeStdinSource()
                }
                if !writer.hasRoom {
                    // The process is behind: read on once it caught up.
                    pauseStdin()
                    writer.whenRoom { [weak self] in self?.watchStdin() }
                    return
                }
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
            return inputEnded()
        }
    }

    private func pauseStdin() {
        guard readingStdin, let stdinFD else { return }
        readingStdin = false
        loop.unwatch(stdinFD)
    }

    /// EOF (or an error) on the source: the process's stdin closes once
    /// what was read is written.
    private func inputEnded() {
        let writer = stdin
        closeStdinSource()
        writer?.close()
    }

    private func closeStdinSource() {
        pauseStdin()
        try? stdinFD?.close()
        stdinFD = nil
        stdin = nil
    }

    // --- the end ----------------------------------------------------------------

    /// Closes everything now; what waits is dropped (the process is being
    /// released).
    func close() {
        closeStdinSource()
        _ = endInput()
        for output in outputs.values { closeOutput(output) }
        onBackpressure = nil
    }
}
