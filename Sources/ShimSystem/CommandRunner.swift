import CShimSys
import Glibc
import SystemPackage

/// What a finished command left behind.
public struct CommandResult: Sendable {
    public var termination: Termination
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    /// Killed because the deadline passed.
    public var timedOut: Bool

    public var succeeded: Bool { termination == .exited(0) && !timedOut }
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Runs short-lived programs (the OCI runtime, package queries) without
/// blocking the loop: output is collected as it arrives, the exit comes from
/// the reaper, and a deadline kills a hung program.
public final class CommandRunner {
    public struct Command {
        public var path: String
        public var arguments: [String]
        public var environment: [String]
        public var directory: String?
        public var timeoutNanos: Int64
        /// Bytes written to the command's stdin (then closed); nil: /dev/null.
        public var stdin: [UInt8]?
        /// Capture stdout/stderr; when false the fds below are used instead.
        public var captureOutput = true
        /// Extra fds for the child (child number -> parent fd), e.g. the
        /// container's stdio for `runc create`, or a console socket.
        public var extraFds: [(child: FileDescriptor, parent: FileDescriptor)] = []
        /// Customizes the spawn (session, SELinux label, mount namespace).
        public var configure: ((inout SpawnOptions) -> Void)?
        /// Stop capturing beyond this many bytes per stream.
        public var outputLimit = 16 << 20

        public init(path: String, arguments: [String], environment: [String], timeoutNanos: Int64) {
            self.path = path
            self.arguments = arguments
            self.environment = environment
            self.timeoutNanos = timeoutNanos
        }
    }

    private let loop: EventLoop
    private let reaper: any ProcessTable

    public init(loop: EventLoop, reaper: any ProcessTable) {
        self.loop = loop
        self.reaper = reaper
    }

    /// Starts `command`; `completion` runs in the loop once it has exited.
    /// Returns the pid, or throws when it could not be started at all.
    @discardableResult
    public func run(_ command: Command, completion: @escaping (CommandResult) -> Void) throws -> pid_t {
        let devnullFD = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard devnullFD >= 0 else { throw SystemError("open /dev/null") }
        let devnull = FileDescriptor(rawValue: devnullFD)
        defer { try? devnull.close() }

        var childFds: [(child: FileDescriptor, parent: FileDescriptor)] = []
        var toCloseAfterSpawn: [FileDescriptor] = []
        var capture: [FileDescriptor] = []
        var stdinWriter: FileDescriptor?
        func cleanupOnFailure() {
            for fd in toCloseAfterSpawn + capture { try? fd.close() }
            try? stdinWriter?.close()
        }

        if command.stdin != nil {
            let (r, w) = try Pipe.make()
            childFds.append((.standardInput, r))
            toCloseAfterSpawn.append(r)
            stdinWriter = w
        } else if !command.extraFds.contains(where: { $0.child == .standardInput }) {
            childFds.append((.standardInput, devnull))
        }
        if command.captureOutput {
            for child in [FileDescriptor.standardOutput, .standardError] {
                let (r, w): (FileDescriptor, FileDescriptor)
                do { (r, w) = try Pipe.make() } catch { cleanupOnFailure(); throw error }
                childFds.append((child, w))
                toCloseAfterSpawn.append(w)
                capture.append(r)
            }
        }
        childFds.append(contentsOf: command.extraFds)
        if !command.captureOutput && !command.extraFds.contains(where: { $0.child == .standardOutput }) {
            childFds.append((.standardOutput, devnull))
            childFds.append((.standardError, devnull))
        }

        var options = SpawnOptions(path: command.path, arguments: command.arguments,
                                   environment: command.environment, directory: command.directory)
        options.fds = childFds
        command.configure?(&options)
        let pid: pid_t
        do {
            pid = try Spawner.spawn(options)
        } catch {
            cleanupOnFailure()
            throw error
        }
        for fd in toCloseAfterSpawn { try? fd.close() }

        let run = RunningCommand(loop: loop, pid: pid, captureFds: capture, limit: command.outputLimit, completion: completion)
        if let stdinWriter {
            // Small inputs (process specs, resources JSON) fit the pipe buffer.
            _ = try? FileSystem.writeAll(fd: stdinWriter, command.stdin ?? [], what: "stdin of \(command.path)")
            try? stdinWriter.close()
        }
        run.start()
        if command.timeoutNanos > 0 {
            run.timer = loop.schedule(afterNanos: command.timeoutNanos) { [weak run] in run?.expire() }
        }
        reaper.onExit(of: pid) { termination in run.exited(termination) }
        return pid
    }
}

/// One command in flight: its capture pipes, deadline and result.
private final class RunningCommand {
    let loop: EventLoop
    let pid: pid_t
    /// nil once closed.
    var fds: [FileDescriptor?]
    var output: [[UInt8]]
    let limit: Int
    var timedOut = false
    var termination: Termination?
    var timer: EventLoop.TimerToken?
    let completion: (CommandResult) -> Void

    init(loop: EventLoop, pid: pid_t, captureFds: [FileDescriptor], limit: Int, completion: @escaping (CommandResult) -> Void) {
        self.loop = loop
        self.pid = pid
        self.fds = captureFds
        self.output = captureFds.map { _ in [] }
        self.limit = limit
        self.completion = completion
    }

    func start() {
        for (i, fd) in fds.enumerated() {
            guard let fd else { continue }
            _ = fcntl(fd.rawValue, F_SETFL, fcntl(fd.rawValue, F_GETFL) | O_NONBLOCK)
            do {
                try loop.watch(fd, .readable) { [unowned self] _ in self.drain(i) }
            } catch {
                // Cannot happen for a pipe; without a watch we still drain at exit.
            }
        }
    }

    /// Reads what is available; returns false at EOF.
    @discardableResult
    func drain(_ i: Int) -> Bool {
        guard let fd = fds[i] else { return false }
        // Not zeroed: a runtime call prints a few hundred bytes at most, and
        // a zeroed 64 KiB array cost a page fault per page on every drain.
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 << 10, alignment: 1)
        defer { buf.deallocate() }
        while true {
            let n = read(fd.rawValue, buf.baseAddress, buf.count)
            if n > 0 {
                let room = limit - output[i].count
                if room > 0 { output[i].append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[0..<min(n, room)])) }
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return true }
            closeCapture(i)
            return false
        }
    }

    func closeCapture(_ i: Int) {
        guard let fd = fds[i] else { return }
        loop.unwatch(fd)
        try? fd.close()
        fds[i] = nil
    }

    func expire() {
        guard termination == nil else { return }
        timedOut = true
        kill(pid, SIGKILL)
    }

    func exited(_ termination: Termination) {
        self.termination = termination
        if let timer { loop.cancel(timer) }
        // Everything the command wrote is in the pipes now; take it and stop
        // watching even if a grandchild still holds the write ends.
        for i in fds.indices {
            drain(i)
            closeCapture(i)
        }
        let result = CommandResult(termination: termination,
                                   stdout: output.count > 0 ? output[0] : [],
                                   stderr: output.count > 1 ? output[1] : [],
                                   timedOut: timedOut)
        completion(result)
    }
}

/// pipe2 with close-on-exec on both ends.
public enum Pipe {
    public static func make() throws(SystemError) -> (read: FileDescriptor, write: FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        try sysCall("pipe2") { ocishim_pipe2(&fds, O_CLOEXEC) }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }
}
