import CShimSys
import Glibc
import ShimSystem
import SystemPackage

/// The container's stdio as the shim holds it: pipes (stdout and stderr kept
/// apart, optional stdin) or a pseudo-terminal whose master the runtime sends
/// through the console socket. The runtime gets the child ends; the shim
/// keeps the parent ends for the log and for attach clients. In passthrough
/// mode the container gets fds the engine handed the shim and the shim
/// keeps nothing (conmon's `--log-path passthrough`).
final class ContainerIO {
    enum Mode { case pipes, terminal, passthrough }

    let mode: Mode
    /// Parent ends. For a terminal, stdin and stdout are the pty master
    /// and there is no stderr.
    private(set) var stdinFD: FileDescriptor?
    private(set) var stdoutFD: FileDescriptor?
    private(set) var stderrFD: FileDescriptor?
    /// The ends the runtime's process gets as 0, 1, 2 (pipes mode).
    private var childEnds: [(child: FileDescriptor, parent: FileDescriptor)] = []
    private var console: ConsoleSocket?
    private var pumps: [OutputPump] = []
    /// Pipe capacity asked for: fewer wake-ups and no blocked writer while
    /// the shim is busy. Pages are only allocated as data arrives.
    static let pipeSize: Int32 = 1 << 20

    private init(mode: Mode) { self.mode = mode }

    /// Pipes for stdout and stderr, and for stdin when `stdin` (else the
    /// container reads /dev/null). `owner`: the container's ends are made
    /// its (see StdioOwner).
    static func pipes(stdin: Bool, owner: StdioOwner? = nil) throws(CoreError) -> ContainerIO {
        let io = ContainerIO(mode: .pipes)
        do throws(SystemError) {
            let out = try Pipe.make()
            let err = try Pipe.make()
            io.stdoutFD = out.read
            io.stderrFD = err.read
            for fd in [out.write, err.write] { _ = ocishim_set_pipe_size(fd.rawValue, pipeSize) }
            var ends: [(child: FileDescriptor, parent: FileDescriptor)] = [(.standardOutput, out.write), (.standardError, err.write)]
            if stdin {
                let input = try Pipe.make()
                io.stdinFD = input.write
                ends.append((.standardInput, input.read))
            } else {
                let devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)
                guard devnull >= 0 else { throw SystemError("open /dev/null") }
                ends.append((.standardInput, FileDescriptor(rawValue: devnull)))
            }
            io.childEnds = ends
            if let owner {
                for (child, fd) in ends where child != .standardInput || stdin {
                    let name = child == .standardInput ? "stdin" : child == .standardOutput ? "stdout" : "stderr"
                    try sysCall("fchown the container's \(name) pipe to \(owner.uid):\(owner.gid)") {
                        fchown(fd.rawValue, owner.uid, owner.gid)
                    }
                }
            }
        } catch {
            io.close()
            throw .internal("cannot create the container's stdio pipes: \(error)")
        }
        return io
    }

    /// The container's 0, 1, 2 are duplicates of `fds` (exactly three): no
    /// pipes, no log, nothing to attach to.
    static func passthrough(_ fds: [FileDescriptor]) throws(CoreError) -> ContainerIO {
        guard fds.count == 3 else { throw .invalid("passthrough stdio needs exactly 3 fds, got \(fds.count)") }
        let io = ContainerIO(mode: .passthrough)
        for (child, fd) in fds.enumerated() {
            let copy = fcntl(fd.rawValue, F_DUPFD_CLOEXEC, 3)
            guard copy >= 0 else {
                let error = SystemError("dup fd \(fd.rawValue)")
                io.close()
                throw .invalid("cannot pass fd \(fd.rawValue) through to the container: \(error)")
            }
            io.childEnds.append((FileDescriptor(rawValue: Int32(child)), FileDescriptor(rawValue: copy)))
        }
        return io
    }

    /// A console socket in `dir`; the terminal arrives with `receiveTerminal`.
    static func terminal(socketDir dir: String) throws(CoreError) -> ContainerIO {
        let io = ContainerIO(mode: .terminal)
        io.console = try ConsoleSocket(preferredDir: dir)
        return io
    }

    /// fds for the runtime's process (pipes mode): the container inherits them.
    var runtimeStdio: [(child: FileDescriptor, parent: FileDescriptor)] { childEnds }
    var consoleSocketPath: String? { console?.path }

    /// After the runtime exited: the child ends are the container's now.
    func runtimeFinished() {
        for (_, fd) in childEnds { try? fd.close() }
        childEnds = []
    }

    /// What a failed runtime left in the stderr pipe it shared with the
    /// container (pipes mode): one read of at most `limit` bytes, without
    /// waiting, as conmon reads the runtime's stderr after a failure.
    func takeRuntimeStderr(limit: Int = CoreError.runtimeOutputLimit) -> [UInt8] {
        guard mode == .pipes, let stderrFD else { return [] }
        _ = fcntl(stderrFD.rawValue, F_SETFL, fcntl(stderrFD.rawValue, F_GETFL) | O_NONBLOCK)
        var buffer = [UInt8](repeating: 0, count: limit)
        var n: Int
        repeat {
            n = buffer.withUnsafeMutableBytes { read(stderrFD.rawValue, $0.baseAddress, $0.count) }
        } while n < 0 && errno == EINTR
        return n > 0 ? Array(buffer[0..<n]) : []
    }

    /// Takes the pty master from the console socket (terminal mode).
    func receiveTerminal() throws(CoreError) {
        guard let console else { return }
        defer {
            console.close()
            self.console = nil
        }
        let master = try console.receiveMaster()
        _ = fcntl(master.rawValue, F_SETFL, fcntl(master.rawValue, F_GETFL) | O_NONBLOCK)
        stdinFD = master
        stdoutFD = master
        stderrFD = nil
    }

    /// Reads output as it comes: `sink` gets each chunk (stdout for a
    /// terminal), `finished` runs once every output has reached EOF.
    func startOutput(loop: EventLoop, scratch: ScratchBuffer,
                     sink: @escaping (LogStream, UnsafeRawBufferPointer) -> Void, finished: @escaping () -> Void,
                     readFailed: ((LogStream, Int32) -> Void)? = nil) {
        var open = 0
        let done = { open -= 1; if open == 0 { finished() } }
        for (fd, stream) in [(stdoutFD, LogStream.stdout), (stderrFD, LogStream.stderr)] {
            guard let fd else { continue }
            open += 1
            let pump = OutputPump(fd: fd, stream: stream, loop: loop, scratch: scratch, sink: sink, finished: done)
            if let readFailed { pump.readFailed = { readFailed(stream, $0) } }
            pumps.append(pump)
            pump.start()
        }
        if open == 0 { finished() }
    }

    /// Stops the pumps without closing the fds.
    func stopOutput() {
        for pump in pumps { pump.stop() }
        pumps = []
    }

    /// Stops reading output until `resumeOutput` (its reader is behind).
    func pauseOutput() {
        for pump in pumps { pump.pause() }
    }

    func resumeOutput() {
        for pump in pumps { pump.resume() }
    }

    /// Reads everything already buffered (at container exit, before the exit
    /// is reported, so the log is complete).
    func drainOutput() {
        for pump in pumps { pump.drain() }
    }

    func resize(rows: UInt16, columns: UInt16) throws(CoreError) {
        guard mode == .terminal, let stdoutFD else {
            throw .precondition("the container has no terminal to resize")
        }
        if ocishim_set_winsize(stdoutFD.rawValue, rows, columns) != 0 {
            throw .internal("cannot resize the terminal: \(SystemError("TIOCSWINSZ"))")
        }
    }

    /// Closes the container's stdin (pipes) so it sees EOF.
    func closeStdin() {
        guard mode == .pipes, let stdinFD else { return }
        try? stdinFD.close()
        self.stdinFD = nil
    }

    var hasStdin: Bool { stdinFD != nil }

    func close() {
        for pump in pumps { pump.stop() }
        pumps = []
        runtimeFinished()
        console?.close()
        console = nil
        if let stdinFD, stdinFD != stdoutFD { try? stdinFD.close() }
        try? stdoutFD?.close()
        try? stderrFD?.close()
        stdinFD = nil
        stdoutFD = nil
        stderrFD = nil
    }
}
