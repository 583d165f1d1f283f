/// Attach, terminals and exec sessions: the seed's HTTPAttach, AttachResize,
/// ExecContainer(HTTP), ExecAttachResize, ExecStopContainer,
/// ExecUpdateStatus and ExecContainerCleanup, done by this one shim for all
/// of the container's exec sessions.
extension RuntimeCore {
    private func running(_ operation: String) -> Result<Container, CoreError> {
        guard let container = currentContainer else {
            return .failure(.precondition("cannot \(operation): no container has been created in this shim"))
        }
        return .success(container)
    }

    // --- attach -------------------------------------------------------------------

    /// Attaches `client` to the container's process or to an exec session.
    /// The client sees live output from now on (an exec session's backlog
    /// first) until the process exits, the detach keys are typed, or it ends
    /// the session.
    public func attach(_ request: AttachRequest, client: AttachClient) -> Result<AttachSession, CoreError> {
        let container: Container
        switch running("attach") {
        case .failure(let e): return .failure(e)
        case .success(let c): container = c
        }
        if request.execID != nil {
            do throws(CoreError) { return .success(try container.execs.attach(request, client: client)) } catch {
                return .failure(error)
            }
        }
        guard [.created, .running, .paused].contains(container.status), let stdio = container.stdio else {
            return .failure(container.illegal("attach to", allowed: "created, running or paused"))
        }
        let session = AttachSession(hub: stdio.hub, client: client, request: request,
                                    detachKeys: request.detachKeys ?? stdio.detachKeys)
        var replay: [(stream: LogStream, bytes: [UInt8])] = []
        if request.replayLog, let path = container.k8sLogPath {
            container.logger?.flush()
            replay = LogTail.read(path: path, maxBytes: AttachRequest.replayLimit)
        }
        session.start(replay: replay)
        return .success(session)
    }

    /// The seed's AttachResize: the container's terminal.
    public func attachResize(rows: UInt16, columns: UInt16) throws(CoreError) {
        let container: Container
        switch running("resize") {
        case .failure(let e): throw e
        case .success(let c): container = c
        }
        guard let stdio = container.stdio else {
            throw container.illegal("resize the terminal of", allowed: "created, running or paused")
        }
        try stdio.hub.resize(rows: rows, columns: columns)
    }

    /// The path of the conmon-compatible attach socket once it exists.
    public var liveAttachSocketPath: String? { currentContainer?.stdio?.attachSocketPath }

    /// A monitor that ends with its container (conmon's process model)
    /// takes down the container's attach endpoints: the socket, the link in
    /// the socket dir, the control FIFOs. Clients still connected are cut.
    public func closeAttachEndpoints() {
        currentContainer?.stdio?.close()
        currentContainer?.stdio = nil
    }

    /// Clients of the conmon attach socket of the container (or of an exec
    /// session). After the process exited, each is closed once it has been
    /// sent the rest of the output (or its grace period is over): a monitor
    /// that is about to exit waits for 0 so that no output is lost.
    public func attachSocketClients(execID: String? = nil) -> Int {
        guard let container = currentContainer else { return 0 }
        guard let execID else { return container.stdio?.socketClientCount ?? 0 }
        return (try? container.execs.socketClientCount(execID)) ?? 0
    }

    // --- exec sessions ---------------------------------------------------------------

    /// Starts an exec session (the seed's ExecContainer). With `attach`, the
    /// client is attached before the process starts (ExecContainerHTTP): it
    /// sees all output. Returns the attach session at once; `started` gets
    /// the pid or the runtime's error.
    ///
    /// `beforeRuntime`, when given, is called once the session's attach
    /// socket listens and before the runtime runs; the runtime runs when it
    /// calls back (conmon's attach pipe, then the second start-pipe message).
    public func exec(_ options: ExecOptions, attach: (client: AttachClient, request: AttachRequest)? = nil,
                     beforeRuntime: ((@escaping () -> Void) -> Void)? = nil,
                     started: @escaping (Result<Int32, CoreError>) -> Void) -> AttachSession? {
        switch running("exec") {
        case .failure(let e):
            started(.failure(e))
            return nil
        case .success(let c):
            switch c.execs.start(options, attach: attach, gate: beforeRuntime, started) {
            case .success(let session): return session
            case .failure(let e):
                started(.failure(e))
                return nil
            }
        }
    }

    public func execResize(_ execID: String, rows: UInt16, columns: UInt16) throws(CoreError) {
        switch running("resize an exec session") {
        case .failure(let e): throw e
        case .success(let c): try c.execs.resize(execID, rows: rows, columns: columns)
        }
    }

    /// SIGTERM, the timeout, then SIGKILL; answers with the exit code.
    public func execStop(_ execID: String, timeoutSeconds: UInt32, _ done: @escaping (Result<Int32, CoreError>) -> Void) {
        switch running("stop an exec session") {
        case .failure(let e): done(.failure(e))
        case .success(let c): c.execs.stop(execID, timeoutSeconds: timeoutSeconds, done)
        }
    }

    public func execState(_ execID: String) -> Result<ExecSnapshot, CoreError> {
        switch running("query an exec session") {
        case .failure(let e): return .failure(e)
        case .success(let c):
            do throws(CoreError) { return .success(try c.execs.state(execID)) } catch { return .failure(error) }
        }
    }

    /// Calls `done` once the session's process has exited: its exit code and
    /// whether its timeout killed it.
    public func execWait(_ execID: String, _ done: @escaping (Result<(exitCode: Int32, timedOut: Bool), CoreError>) -> Void) {
        switch running("wait for an exec session") {
        case .failure(let e): done(.failure(e))
        case .success(let c):
            do throws(CoreError) {
                try c.execs.wait(execID) { code, timedOut in done(.success((code, timedOut))) }
            } catch {
                done(.failure(error))
            }
        }
    }

    /// Sends a signal to the session's process while it runs (a monitor
    /// forwarding its SIGTERM, as conmon does).
    public func execSignal(_ execID: String, signal: Int32) throws(CoreError) {
        switch running("signal an exec session") {
        case .failure(let e): throw e
        case .success(let c): try c.execs.signal(execID, signal)
        }
    }

    public func execCleanup(_ execID: String) throws(CoreError) {
        switch running("clean up an exec session") {
        case .failure(let e): throw e
        case .success(let c): try c.execs.cleanup(execID)
        }
    }

    /// Runs a command to completion and returns its output and exit code.
    /// Returns a cancel closure: the process is killed (a caller that went
    /// away or whose deadline passed no longer wants the answer).
    @discardableResult
    public func execSync(_ options: ExecOptions, timeoutSeconds: UInt32, maxOutputBytes: Int,
                         _ done: @escaping (Result<ExecSyncResult, CoreError>) -> Void) -> () -> Void {
        switch running("exec") {
        case .failure(let e):
            done(.failure(e))
            return {}
        case .success(let c):
            return c.execs.sync(options, timeoutSeconds: timeoutSeconds, maxOutputBytes: maxOutputBytes, done)
        }
    }
}

extension Container {
    /// The file of the container's k8s-file log driver, if it has one.
    var k8sLogPath: String? {
        if options.log.drivers.isEmpty { return ContainerPaths.defaultLog(stateDir: context.config.stateDir) }
        for driver in options.log.drivers {
            if case .k8sFile(let path) = driver { return path }
        }
        return nil
    }
}
