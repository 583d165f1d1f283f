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
    /// What `runc exec` gets for each registered session not started yet.
    private var requests: [String: RuntimeExec] = [:]
    private var syncCounter = 0

    init(container: Container) {
        self.container = container
    }

    var context: CoreContext { container.context }
    var containerID: String { container.id }
    var runtimeName: String { container.runtime.name }
    var socketDir: String { container.paths.socketDir }
    private var log: Logger { context.log }
    private var execRoot: String { FileSystem.join(context.config.stateDir, "exec") }

    /// Every session not removed yet, in no particular order.
    var all: [ExecSession] { Array(sessions.values) }

    /// Sessions that have not exited, for State.
    var activeIDs: [String] {
        sessions.values.filter { $0.phase != .exited }.map(\.id).sorted()
    }

    // --- registration and start --------------------------------------------------------

    /// Registers a session: its directory, stdio and attach socket are made,
    /// nothing runs yet (`start` runs it). With `attach`, the client is
    /// attached now, so it sees all of the process's output.
    func register(_ options: ExecOptions, attach: (client: AttachClient, request: AttachRequest)?)
        -> Result<AttachSession?, CoreError> {
        // The relayed stdio fds are the session's from here: a refusal closes them.
        let refuse = { (error: CoreError) -> Result<AttachSession?, CoreError> in
            options.relayedStdio?.closeAll()
            return .failure(error)
        }
        do throws(CoreError) {
            try ShimConfig.validateContainerID(options.execID)
        } catch {
            return refuse(.invalid("invalid exec session id: \(error.message)"))
        }
        guard options.execID != containerID else {
            return refuse(.invalid("exec session id \(options.execID) is the container's id; use another"))
        }
        guard sessions[options.execID] == nil else {
            return refuse(CoreError(.alreadyExists, "exec session \(options.execID) already exists in container \(containerID)"))
        }
        guard sessions.count < Self.maxSessions else {
            return refuse(CoreError(.resourceExhausted,
                "container \(containerID) has \(sessions.count) exec sessions; clean up exited ones (ExecCleanup) first"))
        }
        if let relayed = options.relayedStdio, relayed.hasStdin && !options.stdin {
            return refuse(.invalid("a relayed stdin needs the session's stdin (ExecOptions.stdin)"))
        }
        let session = ExecSession(options: options, dir: options.directory.map { FileSystem.absolute($0) }
                                      ?? FileSystem.join(execRoot, options.execID),
                                  ephemeral: false, manager: self)
        let request: RuntimeExec
        do throws(CoreError) {
            request = try prepare(session, options)
        } catch {
            return .failure(error)
        }
        sessions[options.execID] = session
        requests[options.execID] = request
        guard let attach else { return .success(nil) }
        let keys = attach.request.detachKeys ?? container.detachKeys
        return .success(session.process.attach(attach.request, client: attach.client, detachKeys: keys))
    }

    /// Runs a registered session's process (`runc exec`). `done` gets the
    /// pid, or the runtime's error (the session is then gone).
    func start(_ id: String, _ done: @escaping (Result<Int32, CoreError>) -> Void) {
        let session: ExecSession
        do throws(CoreError) {
            session = try self.session(id)
            try checkRunning()
        } catch {
            return done(.failure(error))
        }
        guard session.phase == .registered, let request = requests.removeValue(forKey: id) else {
            return done(.failure(.precondition("exec session \(id) has been started already")))
        }
        run(session, request) { [self] result in
            switch result {
            case .success(let pid):
                context.emit(.execStarted) { $0.execID = id; $0.pid = pid }
                container.onChange?()
            case .failure:
                sessions[id] = nil
            }
            done(result)
        }
    }

    /// The process spec and stdio of a new session of a running container;
    /// a session that cannot be prepared is released (its directory and
    /// fds) before the error.
    private func prepare(_ session: ExecSession, _ options: ExecOptions) throws(CoreError) -> RuntimeExec {
        do throws(CoreError) {
            try checkRunning()
            return try session.prepare(spec: try spec(for: options))
        } catch {
            session.release()
            session.removeFiles()
            throw error
        }
    }

    private func checkRunning() throws(CoreError) {
        try container.check(.exec)
    }

    /// The process spec, as podman's prepareProcessExec builds it.
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

    private func run(_ session: ExecSession, _ request: RuntimeExec, _ done: @escaping (Result<Int32, CoreError>) -> Void) {
        log.info("container \(containerID): \(runtimeName) exec \(session.id.isEmpty ? "(sync)" : session.id): \(session.options.args.first ?? "")")
        session.starting()
        container.runtime.exec(request) { result in
            switch result {
            case .failure(var error):
                if error.runtimeOutput == nil, let output = session.process.io?.takeRuntimeStderr(), !output.isEmpty {
                    error.runtimeOutput = output
                }
                session.failedToStart()
                done(.failure(error))
            case .success:
                do throws(CoreError) {
                    try session.started()
                    done(.success(session.process.pid))
                } catch {
                    session.failedToStart()
                    done(.failure(error))
                }
            }
        }
    }

    /// Called by a session when its process's exit is recorded.
    func sessionExited(_ session: ExecSession) {
        container.onChange?()
    }

    // --- the sessions -------------------------------------------------------------------

    func session(_ id: String) throws(CoreError) -> ExecSession {
        guard !id.isEmpty else { throw .invalid("must provide an exec session id") }
        guard let session = sessions[id] else {
            throw CoreError(.notFound, "no exec session \(id) in container \(containerID)")
        }
        return session
    }

    /// ExecStopContainer: SIGTERM, then SIGKILL (not a second SIGTERM) after
    /// the timeout. Answers with the exit once the process has exited; a
    /// session that already exited is success.
    func stop(_ id: String, timeoutSeconds: UInt32, signal: Int32 = SIGTERM,
              _ done: @escaping (Result<(ProcessExit, escalated: Bool), CoreError>) -> Void) {
        let session: ExecSession
        do throws(CoreError) { session = try self.session(id) } catch { return done(.failure(error)) }
        if let exit = session.process.exit { return done(.success((exit, false))) }
        guard session.phase == .running else {
            return done(.failure(.precondition("exec session \(id) is \(session.phase == .registered ? "not started" : "still starting")")))
        }
        session.process.stop(signal: signal, timeoutSeconds: timeoutSeconds, all: false, done)
    }

    /// ExecContainerCleanup: the session's files and sockets go, and with
    /// them its exit code. A registered session that never ran goes too.
    func remove(_ id: String) throws(CoreError) {
        let session = try self.session(id)
        guard session.phase == .exited || session.phase == .registered else {
            throw .precondition("exec session \(id) is \(session.phase == .starting ? "starting" : "running"); stop it before cleaning it up")
        }
        sessions[id] = nil
        requests[id] = nil
        session.release()
        session.removeFiles()
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
        let request: RuntimeExec
        do throws(CoreError) {
            request = try prepare(session, options)
        } catch {
            done(.failure(error))
            return {}
        }
        _ = session.hub.add(capture)
        var cancelled = false
        run(session, request) { [self] result in
            switch result {
            case .failure(let error):
                done(.failure(error))
            case .success(let pid):
                if !options.execID.isEmpty {
                    context.emit(.execStarted) { $0.execID = options.execID; $0.pid = pid }
                }
                if cancelled { session.process.signalDirectly(SIGKILL) }
                if timeoutSeconds > 0 { session.armTimeout(seconds: timeoutSeconds) }
                session.process.onExit { exit in
                    session.release()
                    try? FileSystem.removeTree(session.dir)
                    done(.success(capture.result(exitCode: exit.exitCode, timedOut: exit.timedOut)))
                }
            }
        }
        return { [weak session] in
            cancelled = true
            session?.process.signalDirectly(SIGKILL)
        }
    }

    // --- the container goes ---------------------------------------------------------

    /// The container is deleted: running processes are killed, every
    /// session's files removed.
    func closeAll() {
        let all = sessions.values
        sessions = [:]
        requests = [:]
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
