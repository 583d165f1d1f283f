import Glibc
import ShimSystem

/// Calls addressed by process: the container's init (`execID` nil) or one
/// of its exec sessions. Every front end translates its own calls onto
/// these one to one (containerd's task API carries an exec id in every call;
/// podman's ConmonOCIRuntime has Exec* twins of the container calls).
extension RuntimeCore {
    /// The process a call acts on.
    func process(_ execID: String?, for operation: String) throws(CoreError) -> MonitoredProcess {
        try existing(operation).process(execID)
    }

    // --- signals, stop, wait -----------------------------------------------------------

    /// Sends `signal` (0: SIGTERM): through the runtime to the container
    /// (`all`: to all its processes), by kill(2) to an exec session's
    /// process.
    public func kill(execID: String? = nil, signal: Int32, all: Bool, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        let signal = signal == 0 ? SIGTERM : signal
        do throws(CoreError) {
            let container = try existing("kill")
            guard let execID else { return container.kill(signal: signal, all: all, done) }
            guard (1...64).contains(signal) else { throw .invalid("invalid signal \(signal): use 1 to 64") }
            let session = try container.execs.session(execID)
            guard session.phase == .running else {
                throw .precondition("cannot signal exec session \(execID): it is \(session.phase)")
            }
            done(session.process.signalDirectly(signal))
        } catch {
            done(.failure(error))
        }
    }

    /// Stop (podman's StopContainer and ExecStopContainer): the signal, then
    /// SIGKILL after the timeout (0: at once). Answers once the exit is
    /// recorded; an exited process is success.
    public func stop(execID: String? = nil, timeoutSeconds: UInt32, signal: Int32, all: Bool,
                     _ done: @escaping (Result<(ProcessExit, escalated: Bool), CoreError>) -> Void) {
        do throws(CoreError) {
            let container = try existing("stop")
            guard let execID else { return container.stop(timeoutSeconds: timeoutSeconds, signal: signal, all: all, done) }
            let stopSignal = signal == 0 ? SIGTERM : signal
            guard (1...64).contains(stopSignal) else { throw .invalid("invalid stop signal \(signal)") }
            container.execs.stop(execID, timeoutSeconds: timeoutSeconds, signal: stopSignal, done)
        } catch {
            done(.failure(error))
        }
    }

    /// Calls `done` once the process has exited (at once if it has).
    /// Returns a cancel closure for callers that go away.
    @discardableResult
    public func wait(execID: String? = nil, _ done: @escaping (Result<ProcessExit, CoreError>) -> Void) -> () -> Void {
        do throws(CoreError) {
            let process = try process(execID, for: "wait")
            let token = process.onExit { done(.success($0)) }
            return { [weak process] in process?.cancelExitWait(token) }
        } catch {
            done(.failure(error))
            return {}
        }
    }

    /// Calls `done` once the process's exit is recorded and its exit command
    /// (if any) has finished: nil when there was none or it could not
    /// start. A monitor that lives as long as its process waits here.
    public func whenSettled(execID: String? = nil, _ done: @escaping (Result<Termination?, CoreError>) -> Void) {
        do throws(CoreError) { try process(execID, for: "wait for the exit command").whenSettled { done(.success($0)) } } catch {
            done(.failure(error))
        }
    }

    // --- state ----------------------------------------------------------------------------

    /// An exec session's state (the container's is `state(refresh:)`).
    public func execState(_ execID: String) -> Result<ExecSnapshot, CoreError> {
        do throws(CoreError) { return .success(try existing("get an exec session's state").execs.session(execID).snapshot) } catch {
            return .failure(error)
        }
    }

    /// The pids of every process in the container, as the runtime knows
    /// them (containerd's Pids): the init, exec sessions and their children.
    public func processIDs(_ done: @escaping (Result<[Int32], CoreError>) -> Void) {
        do throws(CoreError) {
            try existing("list the container's processes").runtime.processIDs(containerID, done)
        } catch {
            done(.failure(error))
        }
    }

    /// The exec sessions (registered, running or exited, not removed) with
    /// their pids (0 before they start).
    public var execProcesses: [(execID: String, pid: Int32)] {
        currentContainer?.execs.all.map { ($0.id, $0.process.pid) } ?? []
    }

    // --- stdio ------------------------------------------------------------------------------

    /// Attaches `client` to the container's process or to an exec session.
    /// The client sees live output from now on (an exec session's backlog
    /// first; the container's log with `replayLog`) until the process
    /// exits, the detach keys are typed, or it ends the session.
    public func attach(_ request: AttachRequest, client: AttachClient) -> Result<AttachSession, CoreError> {
        do throws(CoreError) {
            let container = try existing("attach")
            if let execID = request.execID {
                let process = try container.execs.session(execID).process
                return .success(process.attach(request, client: client, detachKeys: request.detachKeys ?? container.detachKeys))
            }
            try container.check(.attach)
            let process = try container.process(nil)
            var replay: [(stream: LogStream, bytes: [UInt8])] = []
            if request.replayLog, let path = container.logFilePath {
                container.logger?.flush()
                replay = LogTail.read(path: path, maxBytes: AttachRequest.replayLimit)
            }
            return .success(process.attach(request, client: client, detachKeys: request.detachKeys ?? container.detachKeys,
                                           replay: replay))
        } catch {
            return .failure(error)
        }
    }

    /// AttachResize and ExecAttachResize: the process's terminal.
    public func resize(execID: String? = nil, rows: UInt16, columns: UInt16) throws(CoreError) {
        let container = try existing("resize")
        if let execID { return try container.execs.session(execID).resize(rows: rows, columns: columns) }
        try container.check(.resize)
        try container.process(nil).resize(rows: rows, columns: columns)
    }

    /// The engine is done writing to the process's stdin (containerd's
    /// CloseIO): it sees EOF.
    public func closeStdin(execID: String? = nil) throws(CoreError) {
        try process(execID, for: "close stdin").closeStdin()
    }

    /// The path of the process's attach socket once it exists.
    public func attachSocketPath(execID: String? = nil) -> String? {
        (try? process(execID, for: "attach"))?.endpoints?.socketPath
    }

    /// Calls `done` once every client of the process's attach socket has
    /// been sent the rest of the output and closed (or dropped at the end of
    /// its grace period): a monitor that is about to exit waits here so
    /// that no output is lost.
    public func whenAttachClientsDrained(execID: String? = nil, _ done: @escaping () -> Void) {
        guard let endpoints = (try? process(execID, for: "attach"))?.endpoints else { return done() }
        endpoints.whenClientsDrained(done)
    }

    /// Takes down the process's attach endpoints: the socket, its link in
    /// the socket dir, the control FIFOs. Clients still connected are cut.
    public func closeAttachEndpoints(execID: String? = nil) {
        guard let process = try? process(execID, for: "attach") else { return }
        process.endpoints?.close()
        process.endpoints = nil
    }

    // --- exec sessions ---------------------------------------------------------------------

    /// Registers an exec session: its stdio and attach socket are ready,
    /// nothing runs until `startExec` (containerd's Exec then Start; an
    /// engine that attaches before the process starts). With `attach`, the
    /// client is attached now and sees all the output.
    public func registerExec(_ options: ExecOptions, attach: (client: AttachClient, request: AttachRequest)? = nil)
        -> Result<AttachSession?, CoreError> {
        do throws(CoreError) { return try existing("exec").execs.register(options, attach: attach) } catch {
            return .failure(error)
        }
    }

    /// Runs a registered session's process; `done` gets its pid or the
    /// runtime's error (the session is then gone).
    public func startExec(_ execID: String, _ done: @escaping (Result<Int32, CoreError>) -> Void) {
        withContainerForExec(done) { $0.execs.start(execID, done) }
    }

    /// Registers and starts at once (podman's ExecContainer). Returns the
    /// attach session when `attach` was given; `started` gets the pid or
    /// the error.
    public func exec(_ options: ExecOptions, attach: (client: AttachClient, request: AttachRequest)? = nil,
                     started: @escaping (Result<Int32, CoreError>) -> Void) -> AttachSession? {
        switch registerExec(options, attach: attach) {
        case .failure(let error):
            started(.failure(error))
            return nil
        case .success(let session):
            startExec(options.execID, started)
            return session
        }
    }

    /// ExecContainerCleanup: the session's files and sockets go, and with
    /// them its exit code.
    public func removeExec(_ execID: String) throws(CoreError) {
        try existing("clean up an exec session").execs.remove(execID)
    }

    /// Runs a command to completion and returns its output and exit code.
    /// Returns a cancel closure: the process is killed (a caller that went
    /// away or whose deadline passed no longer wants the answer).
    @discardableResult
    public func execSync(_ options: ExecOptions, timeoutSeconds: UInt32, maxOutputBytes: Int,
                         _ done: @escaping (Result<ExecSyncResult, CoreError>) -> Void) -> () -> Void {
        do throws(CoreError) {
            return try existing("exec").execs.sync(options, timeoutSeconds: timeoutSeconds, maxOutputBytes: maxOutputBytes, done)
        } catch {
            done(.failure(error))
            return {}
        }
    }

    private func withContainerForExec<T>(_ done: @escaping (Result<T, CoreError>) -> Void, _ body: (Container) -> Void) {
        do throws(CoreError) { body(try existing("exec")) } catch { done(.failure(error)) }
    }
}
