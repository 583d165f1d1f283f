import CShimSys
import ContainerdProtocol
import Glibc
import Logging
import ShimCore
import ShimProtocol
import ShimServer
import ShimSystem
import SystemPackage
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
    private let namespace: String
    /// The containers this shim holds, by id: the one it was started for,
    /// and those containerd grouped into it.
    private var tasks: [String: TaskHandlers] = [:]
    private let primaryID: String
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
        namespace = line.namespace
        primaryID = line.id
        publisher = EventPublisher(address: ttrpcAddress, namespace: line.namespace, loop: host.loop,
                                   scratch: host.scratch, log: log)
        tasks[line.id] = makeTask(core: host.core, paths: paths)
        registerTaskService(on: router)
        // Every core's idle buffers, not only the first one's.
        host.loop.onIdle = { [unowned self] in
            for task in tasks.values { task.core.releaseIdleMemory() }
        }
        try host.onSignals([SIGTERM, SIGINT]) { [unowned self] signal in exitSoon(reason: "signal \(signal)") }
    }

    private func makeTask(core: RuntimeCore, paths: ShimPaths) -> TaskHandlers {
        let task = TaskHandlers(core: core, namespace: namespace, paths: paths, shim: self, log: log)
        _ = core.events.subscribe { [weak task] event in task?.coreEvent(event) }
        return task
    }

    /// The container `id` names, if this shim holds it.
    func task(_ id: String) -> TaskHandlers? { tasks[id] }

    /// Create's container: the one this shim was started for, or one
    /// containerd grouped into it (the same address for the containers of a
    /// group, as `start` computes it), which gets a core of its own with its
    /// files in its own bundle.
    func task(creating req: Containerd_Task_V2_CreateTaskRequest) throws(RPCError) -> TaskHandlers {
        if let task = tasks[req.id] { return task }
        guard req.bundle.hasPrefix("/") else {
            throw RPCError(.invalidArgument, "Create of container \(req.id) needs its bundle's absolute path")
        }
        let paths = ShimPaths(bundle: req.bundle)
        var config = ShimConfig(containerID: req.id, stateDir: paths.stateDir, runtime: RuntimeSelection("runc"))
        config.runtimeRoot = ShimPaths.defaultRuntimeRoot(namespace: namespace)
        do {
            try FileSystem.createDirectory(paths.stateDir, mode: 0o711)
            let core = try RuntimeCore(config: config, loop: loop, processes: host.reaper, scratch: host.scratch)
            let task = makeTask(core: core, paths: paths)
            tasks[req.id] = task
            log.info("container \(req.id) joins this shim (\(tasks.count) containers)")
            return task
        } catch let error as CoreError {
            throw RPCError(error)
        } catch {
            throw RPCError(.internal, "cannot hold container \(req.id): \(error)")
        }
    }

    /// After its Delete: a grouped container's core goes (on the next turn,
    /// once the answer is on its way); the first one stays with the host.
    func taskDeleted(_ id: String) {
        guard id != primaryID else { return }
        loop.soon { [weak self] in
            guard let self, let task = tasks[id], !task.core.holdsContainer else { return }
            task.core.leaveShimCgroup()
            tasks[id] = nil
        }
    }

    /// Whether any container is held (created and not deleted).
    var holdsContainer: Bool { tasks.values.contains { $0.core.holdsContainer } }

    /// Serves the socket `start` made (`fd`, bound at `path`).
    public func serve(listening fd: FileDescriptor, path: String) throws(SystemError) {
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

    private func add(_ fd: FileDescriptor, label: String) {
        let connection = Connection(label: label, readFD: fd, writeFD: fd, loop: loop, router: router,
                                    scratch: host.scratch, log: log)
        do {
            try connection.start()
        } catch {
            log.warning("cannot serve \(label): \(error)")
            try? fd.close()
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
        for task in tasks.values where task.core.holdsContainer {
            log.warning("exiting with container \(task.containerID) still held (\(task.core.snapshot.status.rawValue))")
        }
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
        for task in tasks.values { task.core.leaveShimCgroup() }
        return 0
    }
}
