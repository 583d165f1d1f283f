import Glibc
import ShimClient
import ShimProtocol
import ShimSystem
import SystemPackage

/// A fresh shim for one replay: its own temporary state directory, its own
/// container id, and the variables (`${ID}`, `${STATE_DIR}`, `${SHIM_VERSION}`)
/// that describe it. `finish` always leaves no shim and no directory behind.
public final class TranscriptSession {
    public let shimPath: String
    public let id: String
    public let stateDir: String
    public let variables: TranscriptVariables
    /// The connection in use: the shim's stdio, or its socket after
    /// `-> reconnect`.
    public private(set) var client: ShimClient
    /// A fresh directory holding `${BUNDLE}`, when the transcript has one.
    private var bundleDir: String?
    /// From `<state-dir>/shim.pid`, read once the shim has detached.
    private var pidFromFile: Int32?

    /// Spawns `<shim> serve --id ID --state-dir DIR <serveArguments>`, where the
    /// arguments may refer to `${ID}`, `${STATE_DIR}` and `${SHIM_VERSION}`.
    /// With `bundleCommand`, first builds a busybox bundle running it with
    /// `makeBundle` (Scripts/make-bundle) and defines `${BUNDLE}`.
    public init(shim: String, serveArguments: [String], bundleCommand: [String]? = nil, makeBundle: String? = nil) throws(ClientError) {
        // A shim that dies mid-replay must give EPIPE, not kill the replayer.
        SignalSource.ignore([SIGPIPE])
        shimPath = shim
        let version = try TranscriptSession.shimVersion(of: shim)
        do { stateDir = try TemporaryDirectory.make(prefix: "ocishim-replay") } catch { throw .system(error) }
        id = "replay-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        var variables = TranscriptVariables.session(id: id, stateDir: stateDir, shimVersion: version)
        if let bundleCommand {
            do {
                let dir = try TemporaryDirectory.make(prefix: "ocishim-replay-bundle")
                bundleDir = dir
                let bundle = FileSystem.join(dir, "bundle")
                try TranscriptSession.makeBundle(bundle, command: bundleCommand, script: makeBundle)
                variables[TranscriptVariables.bundle] = bundle
            } catch {
                try? FileSystem.removeTree(stateDir)
                if let bundleDir { try? FileSystem.removeTree(bundleDir) }
                if let error = error as? ClientError { throw error }
                throw .spawn("bundle: \(error)")
            }
        }
        self.variables = variables
        do {
            let extra = try serveArguments.map { (arg: String) throws(TranscriptVariableError) in try variables.expand(arg) }
            client = try ShimClient.spawn(shim: shim, arguments: ["--id", id, "--state-dir", stateDir] + extra)
        } catch {
            try? FileSystem.removeTree(stateDir)
            if let bundleDir { try? FileSystem.removeTree(bundleDir) }
            if let error = error as? ClientError { throw error }
            throw .spawn("serve: \(error)")
        }
        pidFromFile = readPidFile(waitingMillis: 2000)
    }

    /// Runs `script DIR CMD ARG...` (Scripts/make-bundle) to completion.
    static func makeBundle(_ dir: String, command: [String], script: String?) throws(ClientError) {
        guard let script, FileSystem.isExecutableFile(script) else {
            throw .spawn("the transcript needs a bundle, and no make-bundle script was found (set --make-bundle or $OCISHIM_MAKE_BUNDLE)")
        }
        let devnull = FileDescriptor(rawValue: open("/dev/null", O_RDWR | O_CLOEXEC))
        defer { try? devnull.close() }
        var options = SpawnOptions(path: script, arguments: [script, dir] + command, environment: ProcessEnvironment.current())
        options.fds = [(.standardInput, devnull), (.standardOutput, devnull), (.standardError, .standardError)]
        let pid: pid_t
        do { pid = try Spawner.spawn(options) } catch { throw .spawn("\(error)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else { throw .spawn("\(script) failed (\(Termination.describe(waitStatus: status)))") }
    }

    /// `<shim> --version` ends with the version ("ocishim version 0.1.0").
    public static func shimVersion(of shim: String) throws(ClientError) -> String {
        let pipe: (read: FileDescriptor, write: FileDescriptor)
        do { pipe = try Pipe.make() } catch { throw .system(error) }
        var options = SpawnOptions(path: shim, arguments: [shim, "--version"], environment: ProcessEnvironment.current())
        options.fds = [(.standardOutput, pipe.write), (.standardError, .standardError)]
        let pid: pid_t
        do {
            pid = try Spawner.spawn(options)
        } catch {
            try? pipe.read.close()
            try? pipe.write.close()
            throw .spawn("\(error)")
        }
        try? pipe.write.close()
        let output = (try? FileSystem.readAll(fd: pipe.read, limit: 4096, what: "\(shim) --version")) ?? []
        try? pipe.read.close()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let firstLine = String(decoding: output, as: UTF8.self).split(separator: "\n").first ?? ""
        guard status == 0, let version = firstLine.split(separator: " ").last else {
            throw .spawn("\(shim) --version failed (\(Termination.describe(waitStatus: status)))")
        }
        return String(version)
    }

    // --- cleanup ------------------------------------------------------------------

    /// Ends the shim whatever state the replay left it in: a forced Shutdown
    /// (which also removes a container) on stdio if it still listens there,
    /// else on its socket; SIGKILL if it is still alive after that; then the
    /// state directory goes.
    public func finish(after outcome: TranscriptReplayOutcome) {
        if !outcome.sawEOF && !outcome.closedInput && isShimAlive(outcome.shimPid) {
            // On the socket after a reconnect, stream id 1 may be unused.
            // Odd and above any id a transcript uses (even in raw bytes), so
            // the shim's "must increment" rule cannot refuse it.
            requestShutdown(on: client, streamID: UInt32.max)
        }
        client.close()
        // Without stdio a shim that holds a container keeps running; ask it
        // through its socket rather than kill it and orphan the container.
        if !waitForExit(timeoutMillis: 500, fallbackPid: outcome.shimPid),
           let socketClient = try? ShimClient.connect(stateDir: stateDir) {
            requestShutdown(on: socketClient, streamID: 1)
            socketClient.close()
        }
        if !waitForExit(timeoutMillis: 3000, fallbackPid: outcome.shimPid), let pid = shimPid(outcome.shimPid) {
            kill(pid, SIGKILL)
            _ = waitForExit(timeoutMillis: 2000, fallbackPid: outcome.shimPid)
            removeLeftoverContainer()
        }
        try? FileSystem.removeTree(stateDir)
        if let bundleDir { try? FileSystem.removeTree(bundleDir) }
    }

    /// A shim killed with its container still there leaves runc state behind.
    private func removeLeftoverContainer() {
        guard bundleDir != nil, let runc = FileSystem.lookPath("runc") else { return }
        var options = SpawnOptions(path: runc, arguments: [runc, "delete", "--force", id], environment: ProcessEnvironment.current())
        let devnull = FileDescriptor(rawValue: open("/dev/null", O_RDWR | O_CLOEXEC))
        defer { try? devnull.close() }
        options.fds = [(.standardInput, devnull), (.standardOutput, devnull), (.standardError, devnull)]
        guard let pid = try? Spawner.spawn(options) else { return }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    /// Sends Shutdown{force: true} and waits (briefly) for its answer.
    private func requestShutdown(on client: ShimClient, streamID: UInt32) {
        var request = Ttrpc_Request()
        request.service = ShimService.name
        request.method = "Shutdown"
        let shutdown: [UInt8]? = try? Ocishim_V1_ShutdownRequest.with { $0.force = true }.serializedBytes()
        request.payload = .init(shutdown ?? [])
        let bytes: [UInt8]? = try? request.serializedBytes()
        guard let bytes,
              (try? client.connection.send(Frame(streamID: streamID, type: .request, payload: bytes))) != nil
        else { return }
        let deadline = Clock.monotonicNanos() + 2_000_000_000
        while Clock.monotonicNanos() < deadline {
            let left = Int32((deadline - Clock.monotonicNanos()) / 1_000_000)
            guard let frame = try? client.connection.receive(timeoutMillis: max(0, left)) else { return }
            if frame.streamID == streamID { return }
        }
    }

    // --- the shim process -------------------------------------------------------

    private func shimPid(_ fallback: Int32?) -> Int32? {
        pidFromFile ?? readPidFile(waitingMillis: 0) ?? fallback
    }

    private func readPidFile(waitingMillis: Int) -> Int32? {
        let path = FileSystem.join(stateDir, "shim.pid")
        let deadline = Clock.monotonicNanos() + Int64(waitingMillis) * 1_000_000
        while true {
            if let bytes = try? FileSystem.readIfExists(path),
               let pid = Int32(String(decoding: bytes, as: UTF8.self).split(separator: "\n").first ?? ""), pid > 0 {
                return pid
            }
            if Clock.monotonicNanos() >= deadline { return nil }
            usleep(10_000)
        }
    }

    /// Alive, not a zombie (an orphaned shim may wait for a reaper that never
    /// comes), and still our shim: its command line names our state directory,
    /// so a recycled pid is never taken for it.
    func isShimAlive(_ fallback: Int32?) -> Bool {
        guard let pid = shimPid(fallback), kill(pid, 0) == 0 else { return false }
        guard let stat = try? FileSystem.readIfExists("/proc/\(pid)/stat"),
              let cmdline = try? FileSystem.readIfExists("/proc/\(pid)/cmdline")
        else { return false }
        let fields = String(decoding: stat, as: UTF8.self)
        if let close = fields.lastIndex(of: ")"), fields[fields.index(after: close)...].hasPrefix(" Z") { return false }
        let args = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return args.contains(stateDir)
    }

    func waitForExit(timeoutMillis: Int, fallbackPid: Int32?) -> Bool {
        let deadline = Clock.monotonicNanos() + Int64(timeoutMillis) * 1_000_000
        while isShimAlive(fallbackPid) {
            if Clock.monotonicNanos() >= deadline { return false }
            usleep(10_000)
        }
        return true
    }
}

// --- the replay engine's view of the session --------------------------------------

extension TranscriptSession: TranscriptPeer {
    public func send(_ bytes: [UInt8]) throws(TranscriptPeerError) {
        do { try client.connection.sendRaw(bytes) } catch { throw .failed(error.description) }
    }

    public func closeInput() {
        client.connection.closeWrite()
    }

    public func reconnect() throws(TranscriptPeerError) {
        client.close()
        do {
            client = try ShimClient.connect(stateDir: stateDir)
        } catch {
            throw .failed("connect to \(stateDir)/shim.sock: \(error)")
        }
    }

    public func receive(timeoutMillis: Int) throws(TranscriptPeerError) -> Frame? {
        do {
            return try client.connection.receive(timeoutMillis: Int32(clamping: timeoutMillis))
        } catch {
            if case .timedOut = error { throw .timedOut }
            throw .failed(error.description)
        }
    }

    public func waitForExit(timeoutMillis: Int) -> Bool {
        waitForExit(timeoutMillis: timeoutMillis, fallbackPid: nil)
    }

    public func monotonicMillis() -> Int64 {
        Clock.monotonicNanos() / 1_000_000
    }
}
