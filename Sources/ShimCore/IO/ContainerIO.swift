import CShimSys
import Glibc
import ShimSystem

/// The container's stdio as the shim holds it: pipes (stdout and stderr kept
/// apart, optional stdin) or a pseudo-terminal whose master the runtime sends
/// through the console socket. The runtime gets the child ends; the shim
/// keeps the parent ends for the log and for attach clients. In passthrough
/// mode the container gets fds the engine handed the shim and the shim
/// keeps nothing (conmon's `--log-path passthrough`).
final class ContainerIO {
    enum Mode { case pipes, terminal, passthrough }

    let mode: Mode
    /// Parent ends. For a terminal all three are the pty master (or -1).
    private(set) var stdinFD: Int32 = -1
    private(set) var stdoutFD: Int32 = -1
    private(set) var stderrFD: Int32 = -1
    /// The ends the runtime's process gets as 0, 1, 2 (pipes mode).
    private var childEnds: [(child: Int32, parent: Int32)] = []
    private var console: ConsoleSocket?
    private var pumps: [OutputPump] = []
    /// Pipe capacity asked for: fewer wake-ups and no blocked writer while
    /// the shim is busy. Pages are only allocated as data arrives.
    static let pipeSize: Int32 = 1 << 20

    private init(mode: Mode) { self.mode = mode }

    /// Pipes for stdout and stderr, and for stdin when `stdin` (else the
    /// container reads /dev/null).
    static func pipes(stdin: Bool) throws(CoreError) -> ContainerIO {
        let io = ContainerIO(mode: .pipes)
        do throws(SystemError) {
            let out = try Pipe.make()
            let err = try Pipe.make()
            io.stdoutFD = out.read
            io.stderrFD = err.read
            for fd in [out.write, err.write] { _ = ocishim_set_pipe_size(fd, pipeSize) }
            var ends: [(Int32, Int32)] = [(1, out.write), (2, err.write)]
            if stdin {
                let input = try Pipe.make()
                io.stdinFD = input.write
                ends.append((0, input.read))
            } else {
                let devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)
                guard devnull >= 0 else { throw SystemError("open /dev/null") }
                ends.append((0, devnull))
            }
            io.childEnds = ends
        } catch {
            io.close()
            throw .internal("cannot create the container's stdio pipes: \(error)")
        }
        return io
    }

    /// The container's 0, 1, 2 are duplicates of `fds` (exactly three): no
    /// pipes, no log, nothing to attach to.
    static func passthrough(_ fds: [Int32]) throws(CoreError) -> ContainerIO {
        guard fds.count == 3 else { throw .invalid("passthrough stdio needs exactly 3 fds, got \(fds.count)") }
        let io = ContainerIO(mode: .passthrough)
        for (child, fd) in fds.enumerated() {
            let copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)
            guard copy >= 0 else {
                let error = SystemError("dup fd \(fd)")
                io.close()
                throw .invalid("cannot pass fd \(fd) through to the container: \(error)")
            }
            io.childEnds.append((Int32(child), copy))
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
    var runtimeStdio: [(child: Int32, parent: Int32)] { childEnds }
    var consoleSocketPath: String? { console?.path }

    /// After the runtime exited: the child ends are the container's now.
    func runtimeFinished() {
        for (_, fd) in childEnds { Glibc.close(fd) }
        childEnds = []
    }

    /// What a failed runtime left in the stderr pipe it shared with the
    /// container (pipes mode): one read of at most `limit` bytes, without
    /// waiting, as conmon reads the runtime's stderr after a failure.
    func takeRuntimeStderr(limit: Int = CoreError.runtimeOutputLimit) -> [UInt8] {
        guard mode == .pipes, stderrFD >= 0 else { return [] }
        _ = fcntl(stderrFD, F_SETFL, fcntl(stderrFD, F_GETFL) | O_NONBLOCK)
        var buffer = [UInt8](repeating: 0, count: limit)
        var n: Int
        repeat {
            n = buffer.withUnsafeMutableBytes { read(stderrFD, $0.baseAddress, $0.count) }
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
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        stdinFD = master
        stdoutFD = master
        stderrFD = -1
    }

    /// Reads output as it comes: `sink` gets each chunk (stdout for a
    /// terminal), `finished` runs once every output has reached EOF.
    func startOutput(loop: EventLoop, scratch: ScratchBuffer,
                     sink: @escaping (LogStream, UnsafeRawBufferPointer) -> Void, finished: @escaping () -> Void,
                     readFailed: ((LogStream, Int32) -> Void)? = nil) {
        var open = 0
        let done = { open -= 1; if open == 0 { finished() } }
        for (fd, stream) in [(stdoutFD, LogStream.stdout), (stderrFD, LogStream.stderr)] where fd >= 0 {
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

    /// Reads everything already buffered (at container exit, before the exit
    /// is reported, so the log is complete).
    func drainOutput() {
        for pump in pumps { pump.drain() }
    }

    func resize(rows: UInt16, columns: UInt16) throws(CoreError) {
        guard mode == .terminal, stdoutFD >= 0 else {
            throw .precondition("the container has no terminal to resize")
        }
        if ocishim_set_winsize(stdoutFD, rows, columns) != 0 {
            throw .internal("cannot resize the terminal: \(SystemError("TIOCSWINSZ"))")
        }
    }

    /// Closes the container's stdin (pipes) so it sees EOF.
    func closeStdin() {
        guard mode == .pipes, stdinFD >= 0 else { return }
        Glibc.close(stdinFD)
        stdinFD = -1
    }

    var hasStdin: Bool { stdinFD >= 0 }

    func close() {
        for pump in pumps { pump.stop() }
        pumps = []
        runtimeFinished()
        console?.close()
        console = nil
        if stdinFD >= 0 && stdinFD != stdoutFD { Glibc.close(stdinFD) }
        if stdoutFD >= 0 { Glibc.close(stdoutFD) }
        if stderrFD >= 0 { Glibc.close(stderrFD) }
        stdinFD = -1
        stdoutFD = -1
        stderrFD = -1
    }
}
