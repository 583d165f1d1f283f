import Glibc
import Logging
import ShimSystem

/// The one container of a shim and everything the monitor holds for it:
/// the runtime driver, stdio and log, OOM watch, reserved ports, the exit.
/// Lifecycle operations live in the extensions (Container+*.swift).
final class Container {
    let id: String
    let options: CreateOptions
    let paths: ContainerPaths
    let bundleConfig: BundleConfig
    let context: CoreContext
    let driver: RuntimeDriver
    var log: Logger { context.log }

    var io: ContainerIO?
    var logger: ContainerLogger? {
        // The log holds a line's unfinished tail until its newline comes or
        // its deadline passes; the deadline is a timer on this shim's loop.
        didSet {
            logger?.scheduleFlush = { [loop = context.loop] nanos, body in loop.schedule(afterNanos: nanos, body) }
        }
    }
    var oomWatcher: OOMWatcher?
    var ports: PortReservation?
    /// Attach clients, conmon's attach socket, the control FIFOs.
    var stdio: ContainerAttach?
    /// The exec sessions (one shim for all of them).
    private(set) lazy var execs = ExecManager(container: self)

    private(set) var status: ContainerStatus = .none
    var pid: Int32 = 0
    var createdAt: Int64 = 0
    var startedAt: Int64 = 0
    var finishedAt: Int64 = 0
    var exitCode: Int32?
    var oomKilled = false
    /// runc start was sent and has not answered: an exit seen meanwhile
    /// must still be preceded by the started event.
    var startPending = false
    var startedEventSent = false
    /// Checkpoint in flight, or the exit was a checkpoint's (Container+Checkpoint).
    var checkpointProgress = CheckpointProgress()

    /// Wait calls and Stop calls waiting for the exit.
    var exitWaiters: [Int: (ContainerExit) -> Void] = [:]
    var nextWaiterID = 0
    /// The exit command's end (the outer optional: whether it is over).
    var exitCommandOutcome: Termination??
    var exitCommandWaiters: [(Termination?) -> Void] = []
    /// Receivers of live output (attach clients).
    var outputListeners: [Int: (LogStream, UnsafeRawBufferPointer) -> Void] = [:]
    var nextListenerID = 0

    /// Persists the state whenever it changes.
    var onChange: (() -> Void)?

    init(id: String, options: CreateOptions, bundleConfig: BundleConfig, context: CoreContext, driver: RuntimeDriver) {
        self.id = id
        self.options = options
        self.bundleConfig = bundleConfig
        self.context = context
        self.driver = driver
        self.paths = ContainerPaths(id: id, stateDir: context.config.stateDir, options: options)
    }

    /// Changes the status and persists it.
    func transition(to status: ContainerStatus) {
        guard self.status != status else { return }
        log.debug("container \(id): \(self.status.rawValue) -> \(status.rawValue)")
        self.status = status
        onChange?()
    }

    var snapshot: ContainerSnapshot {
        var s = ContainerSnapshot(id: id, status: status)
        s.pid = pid
        s.exitCode = exitCode
        s.createdAt = createdAt
        s.startedAt = startedAt
        s.finishedAt = finishedAt
        s.oomKilled = oomKilled
        s.checkpointed = exitCode != nil && checkpointProgress.stoppedByCheckpoint
        s.bundle = paths.bundle
        s.terminal = io?.mode == .terminal || bundleConfig.terminal
        s.logError = logger?.writeError
        s.logBytesDropped = logger?.droppedBytes ?? 0
        s.execIDs = execs.activeIDs
        return s
    }

    /// The k8s-file log, if any (the first one when there are several).
    var logFilePath: String? {
        if options.log.drivers.isEmpty { return ContainerPaths.defaultLog(stateDir: context.config.stateDir) }
        for case .k8sFile(let path) in options.log.drivers { return path }
        return nil
    }

    var exitInfo: ContainerExit? {
        exitCode.map { ContainerExit(exitCode: $0, finishedAt: finishedAt, oomKilled: oomKilled,
                                     checkpointed: checkpointProgress.stoppedByCheckpoint) }
    }

    /// Registers for the exit; returns a token for `cancelExitWait`.
    func onExit(_ body: @escaping (ContainerExit) -> Void) -> Int {
        if let exitInfo {
            context.loop.soon { body(exitInfo) }
            return 0
        }
        nextWaiterID += 1
        exitWaiters[nextWaiterID] = body
        return nextWaiterID
    }

    func cancelExitWait(_ token: Int) { exitWaiters[token] = nil }

    /// Live output from now on; returns a token for `removeOutputListener`.
    func addOutputListener(_ body: @escaping (LogStream, UnsafeRawBufferPointer) -> Void) -> Int {
        nextListenerID += 1
        outputListeners[nextListenerID] = body
        return nextListenerID
    }

    func removeOutputListener(_ token: Int) { outputListeners[token] = nil }

    /// One chunk of container output: into the log, then to attach clients.
    func output(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer) {
        logger?.write(stream, chunk, timestamp: Clock.realtimeNanos())
        for listener in outputListeners.values { listener(stream, chunk) }
    }

    /// The shim went idle: buffers that only busy output needs are freed.
    func releaseIdleMemory() {
        logger?.releaseBuffers()
    }

    /// Releases what the container holds in the shim (fds, watches).
    func releaseResources() {
        execs.closeAll()
        stdio?.close()
        stdio = nil
        oomWatcher?.stop()
        oomWatcher = nil
        ports?.release()
        ports = nil
        io?.close()
        io = nil
        logger?.close()
        logger = nil
    }
}
