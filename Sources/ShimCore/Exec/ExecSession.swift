import Glibc
import Logging
import ShimSystem

/// What ExecState reports.
public struct ExecSnapshot: Sendable, Equatable {
    public var execID: String
    public var running: Bool
    public var pid: Int32
    /// Set once the process has exited.
    public var exitCode: Int32?
    public var startedAt: Int64
    public var finishedAt: Int64
}

/// One exec process of the container, from `runc exec` to cleanup: its
/// stdio (pipes or a terminal, as the container's), the hub its attach
/// clients join, conmon's attach socket and ctl FIFO for it, its exit.
///
/// Output nobody is attached to goes into the hub's backlog: the newest
/// 64 KiB, handed to the next client that attaches (with the count of what
/// was dropped). The process is never held up by it.
final class ExecSession {
    enum Phase: Equatable { case starting, running, exited }

    let id: String
    let options: ExecOptions
    /// The session's directory: process spec, pid file, attach socket, ctl.
    let dir: String
    let hub: AttachHub
    /// ExecSync: no attach socket, no ctl, no events unless it has an id.
    let ephemeral: Bool
    private unowned let manager: ExecManager
    private(set) var phase = Phase.starting
    private(set) var pid: Int32 = 0
    private(set) var startedAt: Int64 = 0
    private(set) var finishedAt: Int64 = 0
    private(set) var exitCode: Int32?
    private(set) var timedOut = false
    private var io: ContainerIO?
    private var socket: ConmonAttachSocket?
    private var control: ControlFIFO?
    private var pendingSize: (rows: UInt16, columns: UInt16)?
    private var timer: EventLoop.TimerToken?
    private var exitWaiters: [(Int32) -> Void] = []

    init(options: ExecOptions, dir: String, ephemeral: Bool, manager: ExecManager) {
        self.id = options.execID
        self.options = options
        self.dir = dir
        self.ephemeral = ephemeral
        self.manager = manager
        let context = manager.context
        hub = AttachHub(label: ephemeral && options.execID.isEmpty ? "exec" : "exec session \(options.execID)",
                        terminal: options.terminal, stdin: options.stdin,
                        closeStdinOnClientEOF: true,
                        backlogCapacity: ephemeral ? nil : AttachHub.execBacklogCapacity,
                        loop: context.loop, log: context.log)
        hub.resizer = { [unowned self] rows, columns throws(CoreError) in try resize(rows: rows, columns: columns) }
    }

    private var context: CoreContext { manager.context }
    private var log: Logger { context.log }

    /// Clients of the session's attach socket (after the exit: those still
    /// being sent the rest of the output).
    var socketClientCount: Int { socket?.clientCount ?? 0 }

    var snapshot: ExecSnapshot {
        ExecSnapshot(execID: id, running: phase != .exited, pid: pid, exitCode: exitCode,
                     startedAt: startedAt, finishedAt: finishedAt)
    }

    // --- start ------------------------------------------------------------------

    /// Everything before the runtime runs: the directory, the spec, stdio,
    /// the attach socket. Throws with nothing left behind.
    func prepare(spec: JSONValue) throws(CoreError) -> RuntimeCall {
        do { try FileSystem.createDirectory(dir, mode: 0o700) } catch {
            throw .internal("cannot create the exec session directory \(dir): \(error)")
        }
        do throws(CoreError) {
            do { try FileSystem.writeAtomically(processFile, spec.serializedBytes, mode: 0o600) } catch {
                throw .internal("cannot write the exec process spec \(processFile): \(error)")
            }
            io = options.terminal ? try ContainerIO.terminal(socketDir: dir) : try ContainerIO.pipes(stdin: options.stdin)
            if !ephemeral {
                socket = try ConmonAttachSocket(realDir: dir, socketDir: manager.socketDir, name: id, fullAttach: options.fullAttach,
                                                hub: hub, loop: context.loop, scratch: context.scratch, log: log)
                if options.terminal {
                    control = try ControlFIFO(path: FileSystem.join(dir, "ctl"), parse: { ControlCommand.parseControl($0) },
                                              loop: context.loop, log: log) { [weak self] in self?.control($0) }
                }
            }
        } catch {
            release()
            removeFiles()
            throw error
        }
        return runtimeCall()
    }

    private var processFile: String { FileSystem.join(dir, "process.json") }
    private var pidFile: String { FileSystem.join(dir, "pid") }

    /// `runc exec --detach --pid-file P --process F [--console-socket S]
    /// [--preserve-fds N] [--cap C]... [runtime args] ID`
    private func runtimeCall() -> RuntimeCall {
        var args = ["exec", "--detach", "--pid-file", pidFile, "--process", processFile]
        if let socket = io?.consoleSocketPath { args += ["--console-socket", socket] }
        if options.preserveFDs > 0 { args += ["--preserve-fds", String(options.preserveFDs)] }
        for cap in options.capAdd { args += ["--cap", (try? ExecSpecBuilder.capabilityName(cap)) ?? cap] }
        args += options.runtimeArgs
        args.append(manager.containerID)
        var call = RuntimeCall("exec", args)
        if let io, io.mode == .pipes {
            call.captureOutput = false
            call.extraFds = io.runtimeStdio
        }
        call.extraFds += (0..<Int32(options.preserveFDs)).map { (3 + $0, 3 + $0) }
        return call
    }

    /// After `runc exec` succeeded: the pid, the terminal, the monitor.
    func started() throws(CoreError) {
        guard let io else { throw .internal("exec session \(id): stdio vanished") }
        io.runtimeFinished()
        try? FileSystem.removeFile(processFile)
        guard let text = try? FileSystem.readString(pidFile), let pid = Int32(text.trimmingNewlines), pid > 0 else {
            throw .internal("\(manager.runtimeName) exec succeeded but left no valid pid file at \(pidFile)")
        }
        try? FileSystem.removeFile(pidFile)
        self.pid = pid
        if io.mode == .terminal {
            do throws(CoreError) { try io.receiveTerminal() } catch {
                // Running without the terminal it asked for: end it (the
                // reaper keeps its exit as nobody's).
                Glibc.kill(pid, SIGKILL)
                throw error
            }
            if let size = pendingSize {
                pendingSize = nil
                try? io.resize(rows: size.rows, columns: size.columns)
            }
        }
        hub.stdin?.onClose = { [weak io] in io?.closeStdin() }
        hub.stdin?.connect(io.stdinFD)
        startedAt = Clock.realtimeNanos()
        phase = .running
        io.startOutput(loop: context.loop, scratch: context.scratch,
                       sink: { [hub] stream, chunk in hub.output(stream, chunk) }, finished: {})
        context.reaper.onExit(of: pid) { [weak self] termination in self?.exited(termination) }
        if options.timeoutSeconds > 0 { armTimeout(seconds: options.timeoutSeconds) }
    }

    /// `runc exec` failed: nothing runs; the session is gone.
    func failedToStart() {
        io?.runtimeFinished()
        release()
        removeFiles()
    }

    // --- running ----------------------------------------------------------------

    /// Kills the process (SIGKILL) after `seconds`, reporting it timed out.
    func armTimeout(seconds: UInt32) {
        timer = context.loop.schedule(afterSeconds: Double(seconds)) { [weak self] in
            guard let self, phase == .running else { return }
            log.info("\(hub.label): timed out after \(seconds)s; killing pid \(pid)")
            timedOut = true
            signal(SIGKILL)
        }
    }

    /// Signals the process while it is ours: it is our child (the shim is
    /// its subreaper) until reaped, so the pid cannot have been reused.
    func signal(_ sig: Int32) {
        guard phase == .running, pid > 0 else { return }
        Glibc.kill(pid, sig)
    }

    func resize(rows: UInt16, columns: UInt16) throws(CoreError) {
        guard options.terminal else { throw .precondition("exec session \(id) has no terminal to resize") }
        switch phase {
        case .starting:
            pendingSize = (rows, columns)
        case .running:
            guard let io else { throw .precondition("exec session \(id) has no terminal") }
            try io.resize(rows: rows, columns: columns)
        case .exited:
            throw .precondition("exec session \(id) has exited")
        }
    }

    private func control(_ command: ControlCommand) {
        switch command {
        case .resize(let rows, let columns):
            do throws(CoreError) { try resize(rows: rows, columns: columns) } catch {
                log.warning("exec session \(id): resize from the control FIFO: \(error)")
            }
        case .reopenLog:
            log.debug("exec session \(id): no log to reopen")
        }
    }

    /// Calls `body` with the exit code once the process has exited.
    func onExit(_ body: @escaping (Int32) -> Void) {
        if let exitCode { return body(exitCode) }
        exitWaiters.append(body)
    }

    /// The reaper saw the process exit: drain its output, tell everyone.
    private func exited(_ termination: Termination) {
        guard phase == .running else { return }
        log.debug("\(hub.label): pid \(pid) \(termination)")
        if let timer { context.loop.cancel(timer) }
        timer = nil
        socket?.acceptWaiting()
        io?.drainOutput()
        io?.stopOutput()
        phase = .exited
        exitCode = termination.exitCode
        finishedAt = Clock.realtimeNanos()
        hub.ended(exitCode: termination.exitCode)
        control?.close()
        control = nil
        io?.close()
        io = nil
        manager.sessionExited(self)
        let waiters = exitWaiters
        exitWaiters = []
        for waiter in waiters { waiter(termination.exitCode) }
    }

    // --- the end ------------------------------------------------------------------

    /// Closes fds and watches; the files stay for `removeFiles`.
    func release() {
        if let timer { context.loop.cancel(timer) }
        timer = nil
        hub.close()
        socket?.close()
        socket = nil
        control?.close()
        control = nil
        io?.close()
        io = nil
    }

    /// The container is going away: a process still running is killed and
    /// no longer waited for.
    func abandon() {
        if phase == .running && pid > 0 {
            Glibc.kill(pid, SIGKILL)
            context.reaper.forget(pid)
        }
        release()
        removeFiles()
    }

    /// The session's files: its own directory, or (in an engine's
    /// directory) only what the shim put there.
    func removeFiles() {
        guard options.directory != nil else {
            try? FileSystem.removeTree(dir)
            return
        }
        for name in ["process.json", "pid", "attach", "ctl"] {
            try? FileSystem.removeFile(FileSystem.join(dir, name))
        }
    }
}
