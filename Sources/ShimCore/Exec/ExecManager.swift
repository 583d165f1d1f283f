import Glibc
import Logging
import ShimSystem

/// The container's exec sessions: one shim for all of them (conmon needs a
/// process per exec). Each session lives from Exec to ExecCleanup; its exit
/// code is kept until then. ExecSync runs an unnamed session to completion.
final class ExecManager {
    /// Sessions kept at once (running or exited, not yet cleaned up).
    static let maxSessions = 1024
    /// ExecSync's default cap per stream.
    static let defaultSyncOutputLimit = 16 << 20

    unowned let container: Container
    private var sessions: [String: ExecSession] = [:]
    private var syncCounter = 0

    init(container: Container) {
        self.container = container
    }

    var context: CoreContext { container.context }
    var containerID: String { container.id }
    var runtimeName: String { container.driver.runtimeName }
    var socketDir: String { container.paths.socketDir }
    private var log: Logger { context.log }
    private var execRoot: String { FileSystem.join(context.config.stateDir, "exec") }

    /// Running (or starting) sessions, for State.
    var activeIDs: [String] {
        sessions.values.filter { $0.phase != .exited }.map(\.id).sorted()
    }

    // --- start ------------------------------------------------------------------

    /// Starts a session. With `attach`, the client is attached before the
    /// process starts, so it sees all of its output. `done` gets the pid,
    /// or the error (the session is then gone).
    /// `gate`, when given, runs once the session is ready (its attach
    /// socket listening) and before the runtime starts the process; the
    /// runtime runs when it calls back (conmon's attach and start pipes).
    func start(_ options: ExecOptions, attach: (client: AttachClient, request: AttachRequest)?,
               gate: ((@escaping () -> Void) -> Void)? = nil,
               _ done: @escaping (Result<Int32, CoreError>) -> Void) -> Result<AttachSession?, CoreError> {
        do throws(CoreError) {
            try ShimConfig.validateContainerID(options.execID)
        } catch {
            return .failure(.invalid("invalid exec session id: \(error.message)"))
        }
        guard options.execID != containerID else {
            return .failure(.invalid("exec session id \(options.execID) is the container's id; use another"))
        }
        guard sessions[options.execID] == nil else {
            return .failure(CoreError(.alreadyExists, "exec session \(options.execID) already exists in container \(containerID)"))
        }
        guard sessions.count < Self.maxSessions else {
            return .failure(CoreError(.resourceExhausted,
                "container \(containerID) has \(sessions.count) exec sessions; clean up exited ones (ExecCleanup) first"))
        }
        let detachKeys: DetachKeys
        if let keys = attach?.request.detachKeys {
            detachKeys = keys
        } else {
            detachKeys = container.stdio?.detachKeys ?? .default
        }
        let session = ExecSession(options: options, dir: options.directory.map { FileSystem.absolute($0) }
                                      ?? FileSystem.join(execRoot, options.execID),
                                  ephemeral: false, manager: self)
        let call: RuntimeCall
        do throws(CoreError) {
            call = try prepare(session, options)
        } catch {
            return .failure(error)
        }
        sessions[options.execID] = session
        var attached: AttachSession?
        if let attach {
            let a = AttachSession(hub: session.hub, client: attach.client, request: attach.request, detachKeys: detachKeys)
            a.start()
            attached = a
        }
        let launch = { [self] in
            run(session, call) { [self] result in
                switch result {
                case .success(let pid):
                    context.emit(.execStarted) { $0.execID = options.execID; $0.pid = pid }
                    container.onChange?()
                case .failure:
                    sessions[options.execID] = nil
                    attached?.end()
                }
                done(result)
            }
        }
        if let gate {
            var launched = false
            gate { if !launched { launched = true; launch() } }
        } else {
            launch()
        }
        return .success(attached)
    }

    /// The container must be running for an exec.
    /// The runtime call for a new session of a running container; a session
    /// that cannot start is released (its directory and fds) before the error.
    private func prepare(_ session: ExecSession, _ options: ExecOptions) throws(CoreError) -> RuntimeCall {
        do throws(CoreError) {
            try checkRunning()
            return try session.prepare(spec: try spec(for: options))
        } catch {
            session.release()
            throw error
        }
    }

    private func checkRunning() throws(CoreError) {
        guard container.status == .running else {
            throw container.illegal("exec in", allowed: "running")
        }
    }

    /// The process spec, as prepareProcessExec builds it.
    private func spec(for options: ExecOptions) throws(CoreError) -> JSONValue {
        if options.preserveFDs > 0 {
            let held = UInt32(context.config.listenFDs)
            guard options.preserveFDs <= held else {
                throw .invalid("cannot preserve \(options.preserveFDs) fds: the shim holds \(held) fds from the engine (LISTEN_FDS) to pass on")
            }
        }
        if let path = options.processSpecPath {
            let spec: JSONValue
            do {
                spec = try JSONValue(parsing: try FileSystem.read(path, limit: 4 << 20))
            } catch {
                throw .invalid("cannot read the exec process spec \(path): \(error)")
            }
            guard spec.objectValue != nil, !(spec["args"]?.stringArray.isEmpty ?? true) else {
                throw .invalid("the exec process spec \(path) is not an OCI process with args")
            }
            return spec
        }
        let users = UserLookup(rootfs: container.bundleConfig.rootfs)
        return try ExecSpecBuilder.build(containerProcess: container.bundleConfig.process, options: options,
                                         users: users, containerProcessLabel: container.options.processLabel)
    }

    private func run(_ session: ExecSession, _ call: RuntimeCall, _ done: @escaping (Result<Int32, CoreError>) -> Void) {
        log.info("container \(containerID): \(runtimeName) exec \(session.id.isEmpty ? "(sync)" : session.id): \(session.options.args.first ?? "")")
        container.driver.run(call) { result in
            switch result {
            case .failure(let error):
                session.failedToStart()
                done(.failure(error))
            case .success:
                do throws(CoreError) {
                    try session.started()
                    done(.success(session.pid))
                } catch {
                    session.failedToStart()
                    done(.failure(error))
                }
            }
        }
    }

    /// Called by a session when its process has exited.
    func sessionExited(_ session: ExecSession) {
        guard !session.ephemeral || !session.id.isEmpty else { return }
        context.emit(.execExited) { $0.execID = session.id; $0.pid = session.pid; $0.exitCode = session.exitCode ?? -1 }
        container.onChange?()
    }

    // --- the session rpcs -----------------------------------------------------------

    private func session(_ id: String) throws(CoreError) -> ExecSession {
        guard !id.isEmpty else { throw .invalid("must provide an exec session id") }
        guard let session = sessions[id] else {
            throw CoreError(.notFound, "no exec session \(id) in container \(containerID)")
        }
        return session
    }

    func attach(_ request: AttachRequest, client: AttachClient) throws(CoreError) -> AttachSession {
        let session = try session(request.execID ?? "")
        let keys = request.detachKeys ?? container.stdio?.detachKeys ?? .default
        let attached = AttachSession(hub: session.hub, client: client, request: request, detachKeys: keys)
        attached.start()
        return attached
    }

    func resize(_ id: String, rows: UInt16, columns: UInt16) throws(CoreError) {
        try session(id).resize(rows: rows, columns: columns)
    }

    func state(_ id: String) throws(CoreError) -> ExecSnapshot {
        try session(id).snapshot
    }

    /// The seed's ExecStopContainer, with SIGKILL (not a second SIGTERM)
    /// after the timeout. Answers with the exit code once the process has
    /// exited; a session that already exited is success.
    func stop(_ id: String, timeoutSeconds: UInt32, _ done: @escaping (Result<Int32, CoreError>) -> Void) {
        let session: ExecSession
        do throws(CoreError) { session = try self.session(id) } catch { return done(.failure(error)) }
        if let code = session.exitCode { return done(.success(code)) }
        guard session.phase == .running else {
            return done(.failure(.precondition("exec session \(id) is still starting")))
        }
        var finished = false
        var timers: [EventLoop.TimerToken] = []
        let loop = context.loop
        session.onExit { code in
            guard !finished else { return }
            finished = true
            timers.forEach { loop.cancel($0) }
            done(.success(code))
        }
        let killTimeout = 5.0
        let sendKill = { [log] in
            guard !finished else { return }
            log.debug("exec session \(id): SIGKILL")
            session.signal(SIGKILL)
            timers.append(loop.schedule(afterSeconds: killTimeout) {
                guard !finished else { return }
                finished = true
                done(.failure(CoreError(.deadlineExceeded, "exec session \(id) (pid \(session.pid)) did not exit within \(Int(killTimeout))s of SIGKILL")))
            })
        }
        if timeoutSeconds == 0 { return sendKill() }
        session.signal(SIGTERM)
        timers.append(loop.schedule(afterSeconds: Double(timeoutSeconds)) { [log] in
            guard !finished else { return }
            log.warning("timed out waiting for exec session \(id) to stop; resorting to SIGKILL")
            sendKill()
        })
    }

    /// The seed's ExecContainerCleanup: the session's files and sockets go,
    /// and with them its exit code.
    func cleanup(_ id: String) throws(CoreError) {
        let session = try self.session(id)
        guard session.phase == .exited else {
            throw .precondition("exec session \(id) is \(session.phase == .starting ? "starting" : "running"); stop it before cleaning it up")
        }
        sessions[id] = nil
        session.release()
        session.removeFiles()
    }

    /// Calls `body` with the exit code and whether a timeout killed it,
    /// once the session's process has exited.
    func wait(_ id: String, _ body: @escaping (Int32, Bool) -> Void) throws(CoreError) {
        let session = try self.session(id)
        session.onExit { [unowned session] code in body(code, session.timedOut) }
    }

    func socketClientCount(_ id: String) throws(CoreError) -> Int {
        try session(id).socketClientCount
    }

    /// Sends `signal` to the session's process while it runs.
    func signal(_ id: String, _ signal: Int32) throws(CoreError) {
        try session(id).signal(signal)
    }

    // --- ExecSync -------------------------------------------------------------------

    /// Runs a command to completion; its output is captured up to
    /// `maxOutputBytes` per stream (the rest is read and counted, so the
    /// process never blocks on a full pipe). Returns a cancel closure for a
    /// caller that no longer wants the answer: the process is killed (at
    /// once, or as soon as the runtime has started it).
    @discardableResult
    func sync(_ options: ExecOptions, timeoutSeconds: UInt32, maxOutputBytes: Int,
              _ done: @escaping (Result<ExecSyncResult, CoreError>) -> Void) -> () -> Void {
        var options = options
        options.stdin = false
        if !options.execID.isEmpty {
            do throws(CoreError) { try ShimConfig.validateContainerID(options.execID) } catch {
                done(.failure(.invalid("invalid exec session id: \(error.message)")))
                return {}
            }
        }
        syncCounter += 1
        let dir = FileSystem.join(execRoot, ".sync-\(syncCounter)")
        let session = ExecSession(options: options, dir: dir, ephemeral: true, manager: self)
        let capture = OutputCapture(limit: maxOutputBytes > 0 ? maxOutputBytes : Self.defaultSyncOutputLimit)
        let call: RuntimeCall
        do throws(CoreError) {
            call = try prepare(session, options)
        } catch {
            done(.failure(error))
            return {}
        }
        _ = session.hub.add(capture)
        var cancelled = false
        run(session, call) { [self] result in
            switch result {
            case .failure(let error):
                done(.failure(error))
            case .success(let pid):
                if !options.execID.isEmpty {
                    context.emit(.execStarted) { $0.execID = options.execID; $0.pid = pid }
                }
                if cancelled { session.signal(SIGKILL) }
                if timeoutSeconds > 0 { session.armTimeout(seconds: timeoutSeconds) }
                session.onExit { code in
                    session.release()
                    try? FileSystem.removeTree(session.dir)
                    done(.success(capture.result(exitCode: code, timedOut: session.timedOut)))
                }
            }
        }
        return { [weak session] in
            cancelled = true
            session?.signal(SIGKILL)
        }
    }

    // --- the container goes ---------------------------------------------------------

    /// The container is deleted: running processes are killed, every
    /// session's files removed.
    func closeAll() {
        let all = sessions.values
        sessions = [:]
        for session in all { session.abandon() }
        try? FileSystem.removeTree(execRoot)
    }
}

/// What ExecSync answers.
public struct ExecSyncResult: Sendable, Equatable {
    public var exitCode: Int32
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    /// Bytes the process wrote in all, per stream.
    public var stdoutBytes: UInt64
    public var stderrBytes: UInt64
    public var timedOut: Bool
    public var stdoutTruncated: Bool { stdoutBytes > UInt64(stdout.count) }
    public var stderrTruncated: Bool { stderrBytes > UInt64(stderr.count) }
}

/// ExecSync's receiver: keeps the first `limit` bytes of each stream.
private final class OutputCapture: AttachClient {
    let limit: Int
    var stdout: [UInt8] = []
    var stderr: [UInt8] = []
    var stdoutBytes: UInt64 = 0
    var stderrBytes: UInt64 = 0

    init(limit: Int) { self.limit = limit }

    func attachOutput(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer) {
        if stream == .stdout {
            stdoutBytes += UInt64(chunk.count)
            let room = limit - stdout.count
            if room > 0 { stdout.append(contentsOf: chunk.prefix(room)) }
        } else {
            stderrBytes += UInt64(chunk.count)
            let room = limit - stderr.count
            if room > 0 { stderr.append(contentsOf: chunk.prefix(room)) }
        }
    }

    func attachDropped(_ bytes: UInt64) {}
    func attachEnded(exitCode: Int32) {}

    func result(exitCode: Int32, timedOut: Bool) -> ExecSyncResult {
        ExecSyncResult(exitCode: exitCode, stdout: stdout, stderr: stderr, stdoutBytes: stdoutBytes,
                       stderrBytes: stderrBytes, timedOut: timedOut)
    }
}
