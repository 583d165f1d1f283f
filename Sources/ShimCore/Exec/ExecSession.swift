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
    /// The session has a terminal / a stdin (an attach client needs to know
    /// whether to put its own terminal into raw mode, and to send input).
    public var terminal = false
    public var stdin = false
}

/// One exec session of the container, from registration to cleanup: its
/// process (a MonitoredProcess, as the container's init is), the session's
/// directory with the process spec, its stdio (pipes or a terminal, as the
/// container's) and attach endpoints, and its timeout.
///
/// A session is registered first (stdio and attach socket ready, so an
/// engine can attach before anything runs: conmon's attach pipe,
/// containerd's Exec), then started (`runc exec`).
///
/// Output nobody is attached to goes into the hub's backlog: the newest
/// 64 KiB, handed to the next client that attaches (with the count of what
/// was dropped). The process is never held up by it.
final class ExecSession {
    enum Phase: Equatable { case registered, starting, running, exited }

    let id: String
    let options: ExecOptions
    /// The session's directory: process spec, pid file, attach socket, ctl.
    let dir: String
    /// ExecSync: no attach socket, no ctl, no events unless it has an id.
    let ephemeral: Bool
    let process: MonitoredProcess
    private unowned let manager: ExecManager
    private(set) var phase = Phase.registered
    private var timer: EventLoop.TimerToken?
    private var pendingSize: (rows: UInt16, columns: UInt16)?
    /// The session's log (ExecOptions.log), from registration to release.
    private var logger: ContainerLogger?

    init(options: ExecOptions, dir: String, ephemeral: Bool, manager: ExecManager) {
        self.id = options.execID
        self.options = options
        self.dir = dir
        self.ephemeral = ephemeral
        self.manager = manager
        let context = manager.context
        let label = ephemeral && options.execID.isEmpty ? "exec" : "exec session \(options.execID)"
        let hub = AttachHub(label: label, terminal: options.terminal, stdin: options.stdin,
                            closeStdinOnClientEOF: true,
                            // A relay is the engine's copy of the output: no backlog besides.
                            backlogCapacity: ephemeral || options.relayedStdio != nil ? nil : AttachHub.execBacklogCapacity,
                            loop: context.loop, log: context.log)
        process = MonitoredProcess(execID: options.execID, label: label, hub: hub, delivery: .direct, context: context)
        process.emitsEvents = !options.execID.isEmpty
        process.exitFiles = options.exitFiles
        process.exitCommand = options.exitCommand
        process.timeoutExitCode = options.timeoutExitCode
        process.exitFilesAfterAttachClients = options.announceAfterAttachClients
        process.owner = self
        if let relayed = options.relayedStdio {
            process.relayStdio(StdioRelay(relayed, loop: context.loop, scratch: context.scratch, log: context.log, label: label))
        }
        hub.resizer = { [unowned self] rows, columns throws(CoreError) in try resize(rows: rows, columns: columns) }
    }

    private var context: CoreContext { manager.context }
    private var log: Logger { context.log }
    var hub: AttachHub { process.hub }

    /// Clients of the session's attach socket (after the exit: those still
    /// being sent the rest of the output).
    var socketClientCount: Int { process.endpoints?.socketClientCount ?? 0 }

    var snapshot: ExecSnapshot {
        ExecSnapshot(execID: id, running: phase != .exited, pid: process.pid, exitCode: process.exit?.exitCode,
                     startedAt: process.startedAt, finishedAt: process.exit?.finishedAt ?? 0,
                     terminal: options.terminal, stdin: options.stdin)
    }

    // --- registration ---------------------------------------------------------------

    /// Everything before the runtime runs: the directory, the spec, stdio,
    /// the attach socket. Throws with nothing left behind.
    func prepare(spec: JSONValue) throws(CoreError) -> RuntimeExec {
        do { try FileSystem.createDirectory(dir, mode: 0o700) } catch {
            throw .internal("cannot create the exec session directory \(dir): \(error)")
        }
        do throws(CoreError) {
            do { try FileSystem.writeAtomically(processFile, spec.serializedBytes, mode: 0o600) } catch {
                throw .internal("cannot write the exec process spec \(processFile): \(error)")
            }
            let io: ContainerIO
            if !options.providedStdio.isEmpty {
                if options.terminal { throw .invalid("provided stdio cannot be used with a terminal") }
                io = try ContainerIO.passthrough(options.providedStdio)
            } else {
                io = options.terminal ? try ContainerIO.terminal(socketDir: dir) : try ContainerIO.pipes(stdin: options.stdin, owner: options.stdioOwner)
            }
            process.io = io
            if let log = options.log {
                let config = log.config(containerID: manager.containerID, defaultPath: FileSystem.join(dir, "exec.log"))
                let logger = try ContainerLogger(config: config)
                logger.scheduleFlush = { [loop = context.loop] nanos, body in loop.schedule(afterNanos: nanos, body) }
                self.logger = logger
            }
            if !ephemeral && options.attachSocket {
                var layout = AttachEndpoints.Layout(dir: dir, socketDir: manager.socketDir, linkName: id,
                                                    fullAttach: options.fullAttach,
                                                    controlFIFO: options.terminal && options.controlFIFOs,
                                                    windowSizeFIFO: false)
                layout.linkStays = options.attachLinkStays
                layout.acceptBeforeProcess = !options.attachClientsWaitForProcess
                process.endpoints = try AttachEndpoints(layout, hub: hub, context: context) { [weak self] command in
                    self?.control(command)
                }
            }
            var request = RuntimeExec(id: manager.containerID, processFile: processFile, pidFile: pidFile)
            request.stdio = RuntimeStdio(fds: io.mode == .terminal ? [] : io.runtimeStdio, consoleSocket: io.consoleSocketPath)
            request.preserveFDs = Int(options.preserveFDs)
            request.capabilities = options.capAdd.map { (try? ExecSpecBuilder.capabilityName($0)) ?? $0 }
            request.extraArgs = options.runtimeArgs
            request.passFDs = options.runtimeFDs
            request.environment = options.runtimeEnvironment
            return request
        } catch {
            closeLog()
            process.release()
            removeFiles()
            throw error
        }
    }

    private var processFile: String { FileSystem.join(dir, "process.json") }
    private var pidFile: String { FileSystem.join(dir, "pid") }

    // --- start ------------------------------------------------------------------------

    /// The runtime is about to run the process.
    func starting() { phase = .starting }

    /// After `runc exec` succeeded: the pid, the terminal, the monitor.
    func started() throws(CoreError) {
        guard let io = process.io else { throw .internal("exec session \(id): stdio vanished") }
        io.runtimeFinished()
        try? FileSystem.removeFile(processFile)
        guard let text = try? FileSystem.readString(pidFile, limit: 64), let pid = Int32(text.trimmingNewlines), pid > 0 else {
            throw .internal("\(manager.runtimeName) exec succeeded but left no valid pid file at \(pidFile)")
        }
        try? FileSystem.removeFile(pidFile)
        if io.mode == .terminal {
            do throws(CoreError) { try io.receiveTerminal() } catch {
                // Running without the terminal it asked for: end it (the
                // reaper keeps its exit as nobody's).
                _ = context.processes.signal(pid, SIGKILL)
                throw error
            }
            if let size = pendingSize {
                pendingSize = nil
                try? io.resize(rows: size.rows, columns: size.columns)
            }
        }
        hub.stdin?.onClose = { [weak io] in io?.closeStdin() }
        if let stdinFD = io.stdinFD { hub.stdin?.connect(stdinFD) }
        process.connectRelayedStdin()
        phase = .running
        process.began(pid: pid, startedAt: Clock.realtimeNanos())
        process.startOutput()
        if options.timeoutSeconds > 0 { armTimeout(seconds: options.timeoutSeconds) }
    }

    /// `runc exec` failed: nothing runs; the session is gone (its attach
    /// endpoints' files stay with ExecOptions.keepEndpointsAfterFailure).
    func failedToStart() {
        process.io?.runtimeFinished()
        closeLog()
        let keep = options.keepEndpointsAfterFailure
        process.release(keepingEndpointFiles: keep)
        removeFiles(keepingEndpoints: keep)
    }

    /// Reopens the session's log (ExecOptions.log).
    func reopenLog() throws(CoreError) {
        guard let logger else { throw .precondition("exec session \(id) has no log") }
        try logger.reopen()
    }

    private func closeLog() {
        logger?.close()
        logger = nil
    }

    // --- running ----------------------------------------------------------------------

    /// Kills the process (SIGKILL) after `seconds`, reporting it timed out.
    func armTimeout(seconds: UInt32) {
        timer = context.loop.schedule(afterSeconds: Double(seconds)) { [weak self] in
            guard let self, phase == .running else { return }
            log.info("\(process.label): timed out after \(seconds)s; killing pid \(process.pid)")
            process.timedOut = true
            process.signalDirectly(SIGKILL)
        }
    }

    func resize(rows: UInt16, columns: UInt16) throws(CoreError) {
        guard options.terminal else { throw .precondition("exec session \(id) has no terminal to resize") }
        switch phase {
        case .registered, .starting:
            pendingSize = (rows, columns)
        case .running:
            guard let io = process.io else { throw .precondition("exec session \(id) has no terminal") }
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

    // --- the end ----------------------------------------------------------------------

    /// The container is going away: a process still running is killed and
    /// no longer waited for.
    func abandon() {
        process.abandon()
        if let timer { context.loop.cancel(timer) }
        timer = nil
        closeLog()
        process.release()
        removeFiles()
    }

    /// Closes fds and watches; the files stay for `removeFiles`.
    func release() {
        if let timer { context.loop.cancel(timer) }
        timer = nil
        closeLog()
        process.release()
    }

    /// The session's files: its own directory, or (in an engine's
    /// directory) only what the shim put there; `keepingEndpoints`: not the
    /// attach socket and control FIFO.
    func removeFiles(keepingEndpoints: Bool = false) {
        guard options.directory != nil || keepingEndpoints else {
            try? FileSystem.removeTree(dir)
            return
        }
        let endpoints = keepingEndpoints ? [] : ["attach"] + (options.controlFIFOs ? ["ctl"] : [])
        for name in ["process.json", "pid"] + endpoints {
            try? FileSystem.removeFile(FileSystem.join(dir, name))
        }
    }
}

extension ExecSession: ProcessOwner {
    func processEnded(_ process: MonitoredProcess, _ termination: Termination) -> Bool { phase == .running }

    func processOutput(_ process: MonitoredProcess, _ stream: LogStream, _ chunk: UnsafeRawBufferPointer) {
        logger?.write(stream, chunk, timestamp: Clock.realtimeNanos())
        hub.output(stream, chunk)
    }

    func processOutputFinished(_ process: MonitoredProcess) {
        logger?.flush()
    }

    func processWillRecordExit(_ process: MonitoredProcess) {
        if let timer { context.loop.cancel(timer) }
        timer = nil
        process.io?.stopOutput()
        logger?.flush()
        if options.log?.syncOnExit ?? false { logger?.sync() }
        phase = .exited
    }

    func processDidRecordExit(_ process: MonitoredProcess, _ exit: ProcessExit) {
        // Its output was drained and reading stopped: the relay's readers
        // get EOF once they have the rest.
        process.relay?.finishOutput()
        process.endpoints?.closeControl()
        process.io?.close()
        process.io = nil
        manager.sessionExited(self)
    }
}
