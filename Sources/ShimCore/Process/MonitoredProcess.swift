import Glibc
import Logging
import ShimSystem

/// What a process's owner (the container for its init, an exec session for
/// its process) adds to the common life of a monitored process.
protocol ProcessOwner: AnyObject {
    /// The reaper saw the process end. Returns false to hold the exit back
    /// (a checkpoint in flight decides later whether the end was its own).
    func processEnded(_ process: MonitoredProcess, _ termination: Termination) -> Bool
    /// Output chunks, as read (the container logs them before attach
    /// clients see them).
    func processOutput(_ process: MonitoredProcess, _ stream: LogStream, _ chunk: UnsafeRawBufferPointer)
    /// The process's stdio reached EOF on every stream.
    func processOutputFinished(_ process: MonitoredProcess)
    /// Before the exit is recorded, its output drained: what must be on
    /// disk or released before anyone hears of the exit (the log synced, a
    /// last OOM event, reserved ports).
    func processWillRecordExit(_ process: MonitoredProcess)
    /// The exit is recorded and its files written; waiters are told next.
    func processDidRecordExit(_ process: MonitoredProcess, _ exit: ProcessExit)
}

/// One process the shim monitors and reaps: the container's init or one
/// exec session's process. It holds what both have — the pid, the stdio and
/// the hub attach clients join, the exit and who waits for it, the exit
/// files and the exit command — and the one way of stopping it and of
/// recording its end. (containerd's pkg/process has one Process for init
/// and exec; conmon-rs one ReapableChild.)
final class MonitoredProcess {
    /// nil: the container's init.
    let execID: String?
    /// "container ID" / "exec session ID": for messages.
    let label: String
    let hub: AttachHub
    unowned let context: CoreContext
    weak var owner: ProcessOwner?
    /// How a signal reaches the process (`signal(_:all:)`).
    let delivery: SignalDelivery

    private(set) var pid: Int32 = 0
    private(set) var startedAt: Int64 = 0
    private(set) var exit: ProcessExit?
    var io: ContainerIO?
    /// The engine's own stdio fds the process's stdio is copied to and from
    /// (`RelayedStdio`), when it gave them.
    private(set) var relay: StdioRelay?
    /// The attach socket and control FIFOs, when the process has them.
    var endpoints: AttachEndpoints?
    /// Marks that the recorded exit carries.
    var oomKilled = false
    var timedOut = false
    /// Written with the exit code once the exit is recorded (atomically).
    var exitFiles: [String] = []
    /// The shim's own directory of an exit file, made right before it is
    /// written (ContainerPaths.exitDirIsOwn).
    var exitDirToMake: String?
    /// Run once the exit is recorded; `whenSettled` waits for its end.
    var exitCommand: ExitCommandSpec?
    /// The code recorded when a timeout killed the process (conmon reports
    /// -1 for an exec session it timed out); nil: the real one.
    var timeoutExitCode: Int32?
    /// The exit files and everything after wait for the attach socket's
    /// clients to be drained (`recordExit`).
    var exitFilesAfterAttachClients = false
    /// Exit events for the engine (an unnamed ExecSync has none).
    var emitsEvents = true

    /// The exit is known to everyone (files, events, waiters).
    private var announced = false
    private var exitWaiters: [Int: (ProcessExit) -> Void] = [:]
    private var nextWaiter = 0
    /// The exit command's end (outer optional: whether it is over).
    private var settled: Termination??
    private var settledWaiters: [(Termination?) -> Void] = []

    enum SignalDelivery {
        /// Through the runtime (`kill [--all] ID SIGNAL`): the container's
        /// init, whose processes the runtime knows.
        case runtime(OCIRuntime, containerID: String)
        /// kill(2): an exec session's process, the shim's own child.
        case direct
    }

    init(execID: String?, label: String, hub: AttachHub, delivery: SignalDelivery, context: CoreContext) {
        self.execID = execID
        self.label = label
        self.hub = hub
        self.delivery = delivery
        self.context = context
    }

    private var log: Logger { context.log }

    // --- life ---------------------------------------------------------------------

    /// The runtime made the process: watch for its end, and accept the
    /// attach clients that waited for it. `startedAt`: when it started
    /// running (0 for a container's init parked until start).
    func began(pid: Int32, startedAt: Int64 = 0) {
        self.pid = pid
        self.startedAt = startedAt
        context.processes.onExit(of: pid) { [weak self] termination in self?.reaped(termination) }
        endpoints?.processBegan()
    }

    /// A process this shim did not start and does not reap (another
    /// monitor's container, joined for exec sessions only): known by pid,
    /// its end never recorded here.
    func adopt(pid: Int32, startedAt: Int64) {
        self.pid = pid
        self.startedAt = startedAt
    }

    /// The container's init was started by the runtime.
    func markRunning(at time: Int64) {
        if startedAt == 0 { startedAt = time }
    }

    /// Reads the process's output into its owner (and the relay) as it
    /// comes.
    func startOutput() {
        guard let io else { return }
        io.startOutput(loop: context.loop, scratch: context.scratch,
                       sink: { [unowned self] stream, chunk in
                           relay?.output(stream, chunk)
                           if let owner { owner.processOutput(self, stream, chunk) } else { hub.output(stream, chunk) }
                       },
                       finished: { [unowned self] in
                           relay?.finishOutput()
                           owner?.processOutputFinished(self)
                       },
                       readFailed: { [unowned self] stream, code in context.outputReadFailed?(execID, stream, code) })
    }

    /// Copies the process's stdio to and from the engine's fds: its output
    /// from now on (holding the process up while their reader is behind),
    /// its stdin once `connectRelayedStdin` runs.
    func relayStdio(_ relay: StdioRelay) {
        self.relay = relay
        relay.onBackpressure = { [unowned self] full in
            if full { io?.pauseOutput() } else { io?.resumeOutput() }
        }
    }

    /// The process's stdin is ready: the relayed stdin flows into it.
    func connectRelayedStdin() {
        relay?.connectStdin(hub.stdin)
    }

    private func reaped(_ termination: Termination) {
        log.info("\(label): pid \(pid) \(termination)")
        if owner?.processEnded(self, termination) == false { return }
        recordExit(code: termination.exitCode)
    }

    /// The process will not be watched any more (a failed start, or its
    /// container is going): it is killed if it still runs.
    func abandon() {
        guard exit == nil, pid > 0 else { return }
        _ = context.processes.signal(pid, SIGKILL)
        context.processes.forget(pid)
    }

    var isRunning: Bool { pid > 0 && exit == nil }

    /// The process no longer exists; its end is coming from the reaper.
    var isGone: Bool { context.processes.isGone(pid) }

    // --- the exit, recorded in one place -----------------------------------------

    /// Records the end, in conmon's order: attach clients still waiting are
    /// accepted, the output drained, the owner's last steps (log synced,
    /// OOM, ports), attach clients told; then the exit files written, the
    /// owner's state changed, the engine (event) and waiters told, and the
    /// exit command run. With `exitFilesAfterAttachClients`, everything
    /// after telling the attach clients waits until the attach socket's
    /// clients have taken the rest of the output (conmon's exec sessions:
    /// the engine reads the exit code only after its attach has ended).
    /// `reason` explains an exit that is not a wait status (the runtime lost
    /// the process).
    func recordExit(code: Int32, reason: String? = nil, checkpointed: Bool = false) {
        guard exit == nil else { return }
        if let reason { log.warning("\(label): exit \(code): \(reason)") }
        endpoints?.acceptWaitingClients()
        io?.drainOutput()
        owner?.processWillRecordExit(self)
        let recorded = timedOut ? (timeoutExitCode ?? code) : code
        let exit = ProcessExit(exitCode: recorded, finishedAt: Clock.realtimeNanos(), oomKilled: oomKilled,
                               checkpointed: checkpointed, timedOut: timedOut)
        self.exit = exit
        hub.ended(exitCode: recorded)
        if exitFilesAfterAttachClients, let endpoints {
            endpoints.whenClientsDrained { [weak self] in self?.announce(exit, reason: reason) }
        } else {
            announce(exit, reason: reason)
        }
    }

    /// The recorded exit made known: files, the owner, the engine, waiters,
    /// then the exit command.
    private func announce(_ exit: ProcessExit, reason: String?) {
        announced = true
        writeExitFiles(exit.exitCode)
        owner?.processDidRecordExit(self, exit)
        if emitsEvents {
            context.emit(execID == nil ? .exited : .execExited) { [pid, execID] in
                $0.execID = execID ?? ""
                $0.pid = pid
                $0.exitCode = exit.exitCode
                $0.message = reason ?? (exit.checkpointed ? "checkpointed" : "")
            }
        }
        let waiters = exitWaiters.sorted { $0.key < $1.key }.map(\.value)
        exitWaiters = [:]
        for waiter in waiters { waiter(exit) }
        runExitCommand()
    }

    /// The code as decimal text, replacing each file atomically so a watcher
    /// never reads a partial one.
    private func writeExitFiles(_ code: Int32) {
        if let dir = exitDirToMake {
            do { try FileSystem.createDirectory(dir, mode: 0o700) } catch {
                log.error("\(label): cannot create the exit directory: \(error)")
            }
        }
        for path in exitFiles {
            do {
                try FileSystem.writeAtomically(path, "\(code)")
            } catch {
                log.error("\(label): cannot write exit file: \(error)")
            }
        }
    }

    private func runExitCommand() {
        guard let command = exitCommand, !command.argv.isEmpty else { return finishSettling(nil) }
        ExitCommand.run(command.argv, delaySeconds: command.delaySeconds, environment: context.processEnvironment,
                        loop: context.loop, reaper: context.processes, log: log, label: label) { [weak self] termination in
            self?.finishSettling(termination)
        }
    }

    private func finishSettling(_ termination: Termination?) {
        settled = .some(termination)
        let waiters = settledWaiters
        settledWaiters = []
        for waiter in waiters { waiter(termination) }
    }

    /// Calls `body` once the exit is recorded (on the next turn if it is).
    /// Returns a token for `cancelExitWait`.
    @discardableResult
    func onExit(_ body: @escaping (ProcessExit) -> Void) -> Int {
        if let exit, announced {
            context.loop.soon { body(exit) }
            return 0
        }
        nextWaiter += 1
        exitWaiters[nextWaiter] = body
        return nextWaiter
    }

    func cancelExitWait(_ token: Int) { exitWaiters[token] = nil }

    /// Calls `body` once the exit is recorded and the exit command (if any)
    /// has finished: nil when there was none or it could not start.
    func whenSettled(_ body: @escaping (Termination?) -> Void) {
        if let settled {
            context.loop.soon { body(settled) }
        } else {
            settledWaiters.append(body)
        }
    }

    // --- signals -------------------------------------------------------------------

    /// Sends `signal` the process's way: through the runtime for the init
    /// (`all`: to every process of the container), by kill(2) for an exec.
    func signal(_ signal: Int32, all: Bool, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        switch delivery {
        case .runtime(let runtime, let id):
            runtime.kill(id, signal: signal, all: all, done)
        case .direct:
            done(signalDirectly(signal))
        }
    }

    /// kill(2) on the process itself, whatever its delivery (the runtime may
    /// no longer know it, as after a checkpoint).
    @discardableResult
    func signalDirectly(_ signal: Int32) -> Result<Void, CoreError> {
        guard isRunning else { return .failure(.precondition("\(label) is not running")) }
        if let error = context.processes.signal(pid, signal) {
            return .failure(.internal("cannot send signal \(signal) to \(label) (pid \(pid)): \(error)"))
        }
        return .success(())
    }

    /// podman's StopContainer and ExecStopContainer: `signal`, then
    /// SIGKILL after `timeoutSeconds` (0: SIGKILL at once). Answers once the
    /// exit is recorded; an exited process is success.
    func stop(signal: Int32, timeoutSeconds: UInt32, all: Bool,
              _ done: @escaping (Result<(ProcessExit, escalated: Bool), CoreError>) -> Void) {
        let grace = context.config.killGraceSeconds
        var steps: [ExitEscalation.Step] = []
        if timeoutSeconds > 0 { steps.append(.init(send: .signal(signal, all: all), wait: Double(timeoutSeconds))) }
        steps.append(.init(send: .signal(SIGKILL, all: all), wait: grace, escalates: true))
        ExitEscalation.run(on: self, steps: steps,
                           atTheEnd: .fail("\(label) did not exit within \(ExitEscalation.seconds(grace)) of SIGKILL")) { result, escalated in
            done(result.map { exit in (exit!, escalated) })
        }
    }

    // --- stdio ----------------------------------------------------------------------

    func resize(rows: UInt16, columns: UInt16) throws(CoreError) {
        try hub.resize(rows: rows, columns: columns)
    }

    /// The engine is done writing: the process sees EOF on stdin (pipes;
    /// a terminal has no separate stdin to close).
    func closeStdin() {
        // A relayed stdin ends when its source does, after its data.
        if relay?.endInput() == true { return }
        if let stdin = hub.stdin {
            stdin.close()
        } else {
            io?.closeStdin()
        }
    }

    /// Attaches a client (AttachSession); `replay`: earlier output first.
    func attach(_ request: AttachRequest, client: AttachClient, detachKeys: DetachKeys,
                replay: [(stream: LogStream, bytes: [UInt8])] = []) -> AttachSession {
        let session = AttachSession(hub: hub, client: client, request: request, detachKeys: detachKeys)
        session.start(replay: replay)
        return session
    }

    /// Closes the process's fds and endpoints (it has ended or is abandoned);
    /// `keepingEndpointFiles`: the endpoints' files stay.
    func release(keepingEndpointFiles: Bool = false) {
        relay?.close()
        relay = nil
        hub.close()
        endpoints?.close(keepingFiles: keepingEndpointFiles)
        endpoints = nil
        io?.close()
        io = nil
    }
}
