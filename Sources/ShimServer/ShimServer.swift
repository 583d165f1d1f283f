import Glibc
import Logging
import ShimCore
import ShimProtocol
import ShimSystem
import SystemPackage

/// `ocishim serve`: the shim's own protocol over ttrpc, on the engine's
/// stdio and `<state-dir>/shim.sock`, on one ShimHost (loop, signals,
/// reaper, core). The server keeps the transport (connections) and its
/// policy (when the shim exits); the handlers translate calls to the core.
public final class ShimServer {
    public let host: ShimHost
    public var loop: EventLoop { host.loop }
    public var core: RuntimeCore { host.core }
    let router = RPCRouter()
    let log = Logger(label: "ocishim.server")
    private var scratch: ScratchBuffer { host.scratch }
    private var connections: [ObjectIdentifier: Connection] = [:]
    private var listener: SocketListener?
    private var handlers: ShimServiceHandlers?
    private var lifecycle: LifecycleHandlers?
    private var attach: AttachHandlers?
    private var exec: ExecHandlers?
    private var exitStatus: Int32?
    private var nextConnectionNumber = 0

    /// Builds the host and registers the handlers. Throws start-up errors
    /// (invalid id, runtime not found, bad cgroup manager) as CoreError.
    public init(config: ShimConfig) throws {
        host = try ShimHost(config: config)
        let core = host.core
        let handlers = ShimServiceHandlers(core: core, server: self)
        handlers.register(on: router)
        self.handlers = handlers
        let lifecycle = LifecycleHandlers(core: core, server: self)
        lifecycle.register(on: router)
        self.lifecycle = lifecycle
        let attach = AttachHandlers(core: core, log: log)
        attach.register(on: router)
        self.attach = attach
        let exec = ExecHandlers(core: core)
        exec.register(on: router)
        self.exec = exec
        CheckpointHandlers.register(on: router, core: core)
        core.onContainerGone = { [unowned self] in self.containerGone() }
        try host.onSignals([SIGTERM, SIGINT]) { [unowned self] signal in self.terminationSignal(signal) }
    }

    /// Listens on <state-dir>/shim.sock for engines that reconnect.
    public func listen() throws(SystemError) {
        let path = FileSystem.join(core.config.stateDir, "shim.sock")
        listener = try SocketListener(path: path, loop: loop, log: log) { [unowned self] fd, label in
            add(readFD: fd, writeFD: fd, label: label)
        }
    }

    /// Serves the engine on this process's stdin/stdout. Returns false when
    /// stdio cannot carry a connection (a terminal is fine; /dev/null is not).
    @discardableResult
    public func serveStdio() -> Bool {
        // Keep fds 0 and 1 occupied after the connection closes them, so no
        // later open() lands on 0/1/2 and gets mistaken for stdio.
        let readFD = fcntl(0, F_DUPFD_CLOEXEC, 3)
        let writeFD = fcntl(1, F_DUPFD_CLOEXEC, 3)
        let devnull = open("/dev/null", O_RDWR)
        if devnull >= 0 {
            dup2(devnull, 0)
            dup2(devnull, 1)
            if devnull > 2 { close(devnull) }
        }
        guard readFD >= 0, writeFD >= 0 else { return false }
        return add(readFD: FileDescriptor(rawValue: readFD), writeFD: FileDescriptor(rawValue: writeFD), label: "stdio")
    }

    /// Adds a client over an fd pair (the same fd twice for a socket).
    @discardableResult
    public func add(readFD: FileDescriptor, writeFD: FileDescriptor, label: String) -> Bool {
        nextConnectionNumber += 1
        let connection = Connection(label: label, readFD: readFD, writeFD: writeFD, loop: loop,
                                    router: router, scratch: scratch, log: log)
        do {
            try connection.start()
        } catch {
            log.warning("cannot serve \(label): \(error)")
            try? readFD.close()
            if writeFD != readFD { try? writeFD.close() }
            return false
        }
        connections[ObjectIdentifier(connection)] = connection
        connection.onClose = { [unowned self] closed in self.connectionClosed(closed) }
        return true
    }

    public var clientCount: Int { connections.count }

    /// Runs until the shim is told to exit; returns the exit status.
    public func run() -> Int32 {
        exitIfIdle()
        while exitStatus == nil || !outputFlushed() {
            loop.turn(maxWaitMillis: exitStatus == nil ? -1 : 50,
                      unlessDone: { exitStatus != nil && outputFlushed() })
            if let deadline = flushDeadline, Clock.monotonicNanos() > deadline { break }
        }
        listener?.close()
        return exitStatus ?? 0
    }

    private var flushDeadline: Int64?

    /// Ends the shim once pending answers are written (at most 2 s).
    func exitSoon(status: Int32, reason: String) {
        guard exitStatus == nil else { return }
        log.info("exiting: \(reason)")
        exitStatus = status
        flushDeadline = Clock.monotonicNanos() + 2_000_000_000
    }

    private func outputFlushed() -> Bool {
        connections.values.allSatisfy { $0.pendingOutput == 0 }
    }

    private func connectionClosed(_ connection: Connection) {
        connections[ObjectIdentifier(connection)] = nil
        log.debug("\(connection.label) disconnected; \(connections.count) client(s) left")
        exitIfIdle()
    }

    /// A shim with no container and no client has nothing left to do: it
    /// exits instead of lingering. With a container it stays, whatever the
    /// clients do.
    private func exitIfIdle() {
        if connections.isEmpty && !core.holdsContainer {
            exitSoon(status: 0, reason: "no client and no container")
        }
    }

    /// SIGTERM/SIGINT: forwarded to a live container (as conmon does); the
    /// shim itself exits only when it holds no container.
    private func terminationSignal(_ signal: Int32) {
        if core.terminationSignal(signal) {
            exitSoon(status: 0, reason: "signal \(signal)")
        }
    }

    /// After Delete: the shim exits once the Delete answer is written, unless
    /// the engine asked to keep it.
    var keepShimAfterDelete = false

    private func containerGone() {
        if keepShimAfterDelete {
            keepShimAfterDelete = false
            exitIfIdle()
            return
        }
        loop.soon { [weak self] in self?.exitSoon(status: 0, reason: "container deleted") }
    }
}
