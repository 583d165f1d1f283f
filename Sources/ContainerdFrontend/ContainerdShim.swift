import CShimSys
import ContainerdProtocol
import Glibc
import Logging
import ShimCore
import ShimProtocol
import ShimServer
import ShimSystem
import SwiftProtobuf

/// The shim process containerd talks to: `containerd.task.v2.Task` over
/// ttrpc on the socket `start` made (inherited as fd 3), on one ShimHost
/// (loop, signals, reaper, core), publishing task events to containerd's
/// TTRPC_ADDRESS.
///
/// Its life is containerd's runc shim's: it serves whoever connects
/// (containerd, and containerd again after a restart: the container, its
/// exit and its events wait meanwhile) and exits on Shutdown once it holds
/// no container, or on SIGTERM/SIGINT.
public final class ContainerdShim {
    public let host: ShimHost
    private let router = RPCRouter()
    private let log = Logger(label: "ocishim.containerd")
    private let publisher: EventPublisher
    private var handlers: TaskHandlers?
    private var listener: SocketListener?
    private var connections: [ObjectIdentifier: Connection] = [:]
    private var exiting = false
    private var exitDeadline: Int64 = 0

    public var core: RuntimeCore { host.core }
    public var loop: EventLoop { host.loop }

    /// `line`: the shim's command line (its namespace, id and containerd's
    /// address); `bundle`: its working directory; `ttrpcAddress`:
    /// containerd's TTRPC_ADDRESS.
    public init(line: ShimCommandLine, bundle: String, ttrpcAddress: String) throws {
        let paths = ShimPaths(bundle: bundle)
        try FileSystem.createDirectory(paths.stateDir, mode: 0o711)
        var config = ShimConfig(containerID: line.id, stateDir: paths.stateDir, runtime: RuntimeSelection("runc"))
        config.runtimeRoot = ShimPaths.defaultRuntimeRoot(namespace: line.namespace)
        host = try ShimHost(config: config)
        publisher = EventPublisher(address: ttrpcAddress, namespace: line.namespace, loop: host.loop,
                                   scratch: host.scratch, log: log)
        let handlers = TaskHandlers(core: host.core, namespace: line.namespace, paths: paths, shim: self, log: log)
        handlers.register(on: router)
        self.handlers = handlers
        _ = host.core.events.subscribe { [weak handlers] event in handlers?.coreEvent(event) }
        try host.onSignals([SIGTERM, SIGINT]) { [unowned self] signal in exitSoon(reason: "signal \(signal)") }
    }

    /// Serves the socket `start` made (`fd`, bound at `path`).
    public func serve(listening fd: Int32, path: String) throws(SystemError) {
        listener = try SocketListener(listening: fd, path: path, loop: loop, log: log) { [unowned self] peer, label in
            add(peer, label: label)
        }
    }

    /// Listens at `path` (the -socket flag).
    public func serve(path: String) throws(SystemError) {
        listener = try SocketListener(path: path, loop: loop, log: log) { [unowned self] peer, label in
            add(peer, label: label)
        }
    }

    private func add(_ fd: Int32, label: String) {
        let connection = Connection(label: label, readFD: fd, writeFD: fd, loop: loop, router: router,
                                    scratch: host.scratch, log: log)
        do {
            try connection.start()
        } catch {
            log.warning("cannot serve \(label): \(error)")
            close(fd)
            return
        }
        connections[ObjectIdentifier(connection)] = connection
        connection.onClose = { [unowned self] closed in
            connections[ObjectIdentifier(closed)] = nil
            log.debug("\(closed.label) disconnected")
        }
    }

    func publish<Event: SwiftProtobuf.Message>(topic: String, _ event: Event) {
        publisher.publish(topic: topic, event)
    }

    /// Ends the shim once pending answers are written and events handed to
    /// containerd (at most 2 s for both).
    func exitSoon(reason: String) {
        guard !exiting else { return }
        exiting = true
        exitDeadline = Clock.monotonicNanos() + 2_000_000_000
        log.info("exiting: \(reason)")
        if core.holdsContainer { log.warning("exiting with container \(core.containerID) still held (\(core.snapshot.status.rawValue))") }
    }

    private var flushed: Bool {
        connections.values.allSatisfy { $0.pendingOutput == 0 } && publisher.pendingCount == 0
    }

    /// Runs until the shim is told to exit; returns the exit status.
    public func run() -> Int32 {
        while !exiting || (!flushed && Clock.monotonicNanos() < exitDeadline) {
            loop.turn(maxWaitMillis: exiting ? 20 : -1, unlessDone: { exiting && flushed })
        }
        publisher.close()
        for connection in Array(connections.values) { connection.close() }
        listener?.close()
        core.leaveShimCgroup()
        return 0
    }
}
