import Glibc
import Logging
import ShimSystem

/// The one container of a shim: its phase (ContainerPhase), its init
/// process (a MonitoredProcess, as every exec session's process is), the
/// runtime that drives it, and what only the container has: the log, the
/// OOM watch, reserved ports. Lifecycle operations live in the extensions
/// (Container+*.swift).
final class Container {
    let id: String
    let options: CreateOptions
    let paths: ContainerPaths
    let bundleConfig: BundleConfig
    let context: CoreContext
    let runtime: OCIRuntime
    var log: Logger { context.log }

    private(set) var phase: ContainerPhase = .none
    /// The init, from the runtime's create on.
    var initProcess: MonitoredProcess?
    /// The init while the runtime's create runs: its hub and attach
    /// endpoints exist, the process not yet.
    var preparedInit: MonitoredProcess?
    var logger: ContainerLogger? {
        // The log holds a line's unfinished tail until its newline comes or
        // its deadline passes; the deadline is a timer on this shim's loop.
        didSet {
            logger?.scheduleFlush = { [loop = context.loop] nanos, body in loop.schedule(afterNanos: nanos, body) }
        }
    }
    var oomWatcher: OOMWatcher?
    var ports: PortReservation?
    /// The container's stdio while the runtime's create runs; the init's
    /// from then on.
    var io: ContainerIO?
    /// The relay of the engine's stdio fds, until the init takes it.
    var pendingRelay: StdioRelay?
    var detachKeys = DetachKeys.default
    /// The exec sessions (one shim for all of them).
    private(set) lazy var execs = ExecManager(container: self)
    var createdAt: Int64 = 0

    /// Persists the state whenever it changes.
    var onChange: (() -> Void)?

    init(id: String, options: CreateOptions, bundleConfig: BundleConfig, context: CoreContext, runtime: OCIRuntime) {
        self.id = id
        self.options = options
        self.bundleConfig = bundleConfig
        self.context = context
        self.runtime = runtime
        self.paths = ContainerPaths(id: id, stateDir: context.config.stateDir, options: options)
    }

    /// Moves to `next` if the phase table allows it; an illegal move is a
    /// bug of the shim's, logged, and leaves the phase as it was.
    func move(to next: ContainerPhase) {
        let from = phase.kind
        do throws(CoreError) {
            try phase.move(to: next)
        } catch {
            log.error("container \(id): \(error.message)")
            return
        }
        if from != next.kind { log.debug("container \(id): \(from.rawValue) -> \(next.kind.rawValue)") }
        onChange?()
    }

    /// Refuses `operation` unless the phase allows it.
    func check(_ operation: ContainerOperation) throws(CoreError) {
        if let refusal = operation.refusal(in: phase, id: id) { throw refusal }
    }

    var status: ContainerStatus { phase.status }

    var snapshot: ContainerSnapshot {
        var s = ContainerSnapshot(id: id, status: status)
        let exit = initProcess?.exit
        s.pid = initProcess?.pid ?? 0
        s.exitCode = exit?.exitCode
        s.createdAt = createdAt
        s.startedAt = initProcess?.startedAt ?? 0
        s.finishedAt = exit?.finishedAt ?? 0
        s.oomKilled = initProcess?.oomKilled ?? false
        s.checkpointed = exit?.checkpointed ?? false
        s.bundle = paths.bundle
        s.terminal = io?.mode == .terminal || bundleConfig.terminal
        s.logError = logger?.writeError
        s.logBytesDropped = logger?.droppedBytes ?? 0
        s.execIDs = execs.activeIDs
        return s
    }

    /// The file of the k8s-file log driver (the first one when there are
    /// several), if the container has one.
    var logFilePath: String? {
        if options.log.drivers.isEmpty { return ContainerPaths.defaultLog(stateDir: context.config.stateDir) }
        for case .k8sFile(let path) in options.log.drivers { return path }
        return nil
    }

    /// The container's process, or an exec session's: what calls addressed
    /// by process act on.
    func process(_ execID: String?) throws(CoreError) -> MonitoredProcess {
        guard let execID else {
            guard let initProcess else {
                throw .precondition("container \(id) has no process: it \(phase.kind == .creating ? "is being created" : "has not been created")")
            }
            return initProcess
        }
        return try execs.session(execID).process
    }

    /// The shim went idle: buffers that only busy output needs are freed.
    func releaseIdleMemory() {
        logger?.releaseBuffers()
    }

    /// Releases what the container holds in the shim (fds, watches).
    func releaseResources() {
        execs.closeAll()
        initProcess?.release()
        preparedInit?.release()
        preparedInit = nil
        oomWatcher?.stop()
        oomWatcher = nil
        ports?.release()
        ports = nil
        io?.close()
        io = nil
        pendingRelay?.close()
        pendingRelay = nil
        logger?.close()
        logger = nil
    }
}

// --- what the container adds to its init's life ------------------------------------

extension Container: ProcessOwner {
    func processEnded(_ process: MonitoredProcess, _ termination: Termination) -> Bool {
        guard case .checkpointing(var progress) = phase, !progress.leaveRunning else { return true }
        if progress.dumped {
            process.recordExit(code: termination.exitCode, checkpointed: true)
            return false
        }
        // Only the runtime's answer tells a checkpoint's end from a crash
        // during a failed dump.
        log.info("container \(id): init ended during checkpoint; recorded once the runtime answers")
        progress.heldExit = termination.exitCode
        move(to: .checkpointing(progress))
        return false
    }

    func processOutput(_ process: MonitoredProcess, _ stream: LogStream, _ chunk: UnsafeRawBufferPointer) {
        logger?.write(stream, chunk, timestamp: Clock.realtimeNanos())
        process.hub.output(stream, chunk)
    }

    func processOutputFinished(_ process: MonitoredProcess) {
        log.debug("container \(id): output closed")
        logger?.flush()
    }

    /// conmon's order: the log complete and synced, a last OOM event taken,
    /// reserved ports and held fds released, before the exit is known.
    func processWillRecordExit(_ process: MonitoredProcess) {
        logger?.flush()
        if options.log.syncOnExit { logger?.sync() }
        oomWatcher?.flush()
        oomWatcher?.stop()
        oomWatcher = nil
        ports?.release()
        ports = nil
        if options.killAllWhenInitExits { killProcessesLeftByInit() }
        // An exit seen while `runc start` is still answering: the start is
        // recorded first, so it is never later than the finish.
        if phase.kind == .starting { markStarted() }
    }

    func processDidRecordExit(_ process: MonitoredProcess, _ exit: ProcessExit) {
        move(to: .stopped)
    }

    /// The init is gone; what it left in a shared pid namespace goes too.
    private func killProcessesLeftByInit() {
        runtime.kill(id, signal: SIGKILL, all: true) { [log, id] result in
            if case .failure(let error) = result {
                log.debug("container \(id): killing the processes its init left: \(error.message)")
            }
        }
    }

    /// The init started (the runtime's start answered, or the init ended
    /// before it did): the start time and event, once.
    func markStarted() {
        guard let process = initProcess else { return }
        process.markRunning(at: Clock.realtimeNanos())
        context.emit(.started) { $0.pid = process.pid }
    }

    /// The container's memory cgroup saw an OOM kill.
    func oomDetected() {
        guard let process = initProcess, !process.oomKilled else { return }
        process.oomKilled = true
        log.info("container \(id): OOM event received")
        writeOOMFiles()
        context.emit(.oom) { $0.pid = process.pid }
        onChange?()
    }

    /// conmon's write_oom_files: an empty `oom` file in the endpoints dir
    /// (conmon's working directory, the bundle) and in the persist dir.
    private func writeOOMFiles() {
        var targets = [FileSystem.join(paths.endpointsDir, "oom")]
        if let persist = paths.persistDir { targets.append(FileSystem.join(persist, "oom")) }
        for path in targets {
            // Never blocks on a FIFO and never writes through a symlink
            // planted at the name; an existing file is left as it is.
            let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW, 0o666)
            if fd < 0 { log.warning("failed to write oom file \(path): \(SystemError("open"))") } else { close(fd) }
        }
    }
}
