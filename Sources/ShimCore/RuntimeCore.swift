import Glibc
import Logging
import ShimSystem

/// The conmon runtime core of one shim: what podman's ConmonOCIRuntime and the
/// conmon monitor do for one container, driven from the shim's event loop.
/// Operations complete through callbacks on the loop; none blocks it.
public final class RuntimeCore {
    public let config: ShimConfig
    public let runtime: ResolvedRuntime
    public let events = EventLog()
    let context: CoreContext
    private let probe: RuntimeProbe
    private let store: StateStore
    private var container: Container?
    private var createInFlight = false
    /// Called when the shim has nothing left to hold (container deleted).
    public var onContainerGone: (() -> Void)?

    /// Resolves the runtime and validates the configuration; an error here is
    /// a start-up error of the shim.
    public init(config: ShimConfig, loop: EventLoop, reaper: ChildReaper, scratch: ScratchBuffer) throws(CoreError) {
        try ShimConfig.validateContainerID(config.containerID)
        try RuntimeLocator.validateCgroupManager(config.cgroupManager)
        self.config = config
        self.runtime = try RuntimeLocator.resolve(config.runtime)
        let environment = RuntimeEnvironment.fromProcess()
        context = CoreContext(config: config, runtime: runtime, loop: loop, reaper: reaper, scratch: scratch,
                              events: events, environment: environment)
        probe = RuntimeProbe(runtime: runtime, features: config.features, runner: context.runner,
                             timeoutNanos: context.runtimeTimeoutNanos, environment: environment.variables)
        store = StateStore(stateDir: config.stateDir, containerID: config.containerID, loop: loop)
        events.onChange = { [unowned self] in persist() }
        store.runtime = try? runtimeSettings(for: CreateOptions(bundle: "."))
        persist()
    }

    public var containerID: String { config.containerID }
    var log: Logger { context.log }

    /// The process went idle (wire it to EventLoop.onIdle): the shared read
    /// buffer and the log's buffers are freed until needed, then free heap
    /// pages and the stack below the loop go back to the kernel. Measured per
    /// idle shim in docs/BENCHMARKS.md.
    public func releaseIdleMemory() {
        context.scratch.release()
        container?.releaseIdleMemory()
        IdleMemory.release()
    }

    // --- identity and capabilities ---------------------------------------------

    public func runtimeInfo(_ done: @escaping (Result<RuntimeInfo, CoreError>) -> Void) { probe.runtimeInfo(done) }
    public func capabilities(_ done: @escaping (RuntimeCapabilities) -> Void) { probe.capabilities(done) }
    public func checkpointSupport(_ done: @escaping (CheckpointSupport) -> Void) { probe.checkpointSupport(done) }

    /// True while the shim has a container to keep alive for: created and not
    /// deleted. Without one, the shim may exit when its last client leaves.
    public var holdsContainer: Bool {
        createInFlight || (container.map { $0.status != .deleted && $0.status != .none } ?? false)
    }

    // --- lifecycle ---------------------------------------------------------------

    public func create(_ options: CreateOptions, _ done: @escaping (Result<Int32, CoreError>) -> Void) {
        if createInFlight { return done(.failure(.precondition("container \(containerID) is being created"))) }
        if let container, container.status != .deleted {
            return done(.failure(CoreError(.alreadyExists, "container \(containerID) already exists (\(container.status.rawValue))")))
        }
        let bundleConfig: BundleConfig
        let settings: RuntimeSettings
        do {
            bundleConfig = try BundleConfig.load(bundle: FileSystem.absolute(options.bundle))
            settings = try runtimeSettings(for: options)
        } catch {
            return done(.failure(error))
        }
        let driver = RuntimeDriver(settings: settings, runner: context.runner,
                                   logDir: FileSystem.join(config.stateDir, "runtime"))
        let created = Container(id: containerID, options: options, bundleConfig: bundleConfig, context: context, driver: driver)
        createInFlight = true
        store.runtime = settings
        persist()
        created.create { [self] result in
            createInFlight = false
            if case .success = result {
                container = created
                created.onChange = { [unowned self] in persist() }
                persist()
                // The container is gone with its exit: close what the engine
                // asked the shim to hold for its life.
                _ = created.onExit { [unowned self] _ in closeKeptFDs() }
            }
            done(result)
        }
    }

    /// Takes over a running container that another monitor created, to run
    /// exec sessions in it (conmon's exec mode, one monitor per session):
    /// the runtime names its bundle and init pid. `options` carry the runtime
    /// settings and the socket dir; their bundle is replaced by the runtime's.
    /// The container's own exit is not this shim's to watch or record.
    public func adoptForExec(_ options: CreateOptions, _ done: @escaping (Result<Int32, CoreError>) -> Void) {
        if createInFlight || container != nil {
            return done(.failure(.precondition("container \(containerID) is already held by this shim")))
        }
        let settings: RuntimeSettings
        do { settings = try runtimeSettings(for: options) } catch { return done(.failure(error)) }
        let driver = RuntimeDriver(settings: settings, runner: context.runner,
                                   logDir: FileSystem.join(config.stateDir, "runtime"))
        createInFlight = true
        driver.state(containerID) { [self] result in
            createInFlight = false
            switch result {
            case .failure(let error):
                done(.failure(error))
            case .success(nil):
                done(.failure(CoreError(.notFound, "container \(containerID) does not exist in \(driver.runtimeName)")))
            case .success(let state?):
                guard state.status == "running", state.pid > 0 else {
                    return done(.failure(.precondition("cannot exec in container \(containerID): it is \(state.status), not running")))
                }
                var adopted = options
                adopted.bundle = state.bundle
                let bundleConfig: BundleConfig
                do throws(CoreError) { bundleConfig = try BundleConfig.load(bundle: state.bundle) } catch { return done(.failure(error)) }
                let running = Container(id: containerID, options: adopted, bundleConfig: bundleConfig,
                                        context: context, driver: driver)
                running.adoptRunning(pid: state.pid)
                container = running
                running.onChange = { [unowned self] in persist() }
                persist()
                done(.success(state.pid))
            }
        }
    }

    /// The runtime invocation settings for this container: the shim's
    /// runtime unless Create names another, its root, cgroup mode, options.
    private func runtimeSettings(for options: CreateOptions) throws(CoreError) -> RuntimeSettings {
        var resolved = runtime
        if let path = options.runtimePath, !path.isEmpty {
            guard FileSystem.isExecutableFile(path) else {
                throw .invalid("no valid executable found for OCI runtime at \(path)")
            }
            resolved = ResolvedRuntime(name: FileSystem.basename(of: path), path: path)
        }
        let manager = options.cgroupManager ?? config.cgroupManager
        if !options.noCgroups { try RuntimeLocator.validateCgroupManager(manager) }
        var settings = RuntimeSettings(runtime: resolved, environment: context.environment.variables,
                                       timeoutSeconds: options.runtimeTimeoutSeconds ?? config.runtimeTimeoutSeconds)
        settings.root = options.runtimeRoot ?? config.runtimeRoot
        settings.systemdCgroup = manager == "systemd" && !options.noCgroups
        settings.globalArgs = options.runtimeGlobalArgs
        if options.noCgroups { settings.globalArgs += ["--cgroup-manager", "disabled"] }
        settings.jsonErrors = config.features.json.contains(resolved.name)
        return settings
    }

    /// The container, for the extensions (nil before Create).
    var currentContainer: Container? { container }

    private func existing(_ operation: String) -> Result<Container, CoreError> {
        guard let container else {
            return .failure(.precondition("cannot \(operation): no container has been created in this shim"))
        }
        return .success(container)
    }

    public func start(_ done: @escaping (Result<(pid: Int32, startedAt: Int64), CoreError>) -> Void) {
        switch existing("start") {
        case .failure(let e): done(.failure(e))
        case .success(let c): c.start { done($0.map { (c.pid, $0) }) }
        }
    }

    /// What the monitor knows, without asking the runtime.
    public var snapshot: ContainerSnapshot {
        container?.snapshot ?? ContainerSnapshot(id: containerID, status: .none)
    }

    /// The monitor's view; with `refresh`, the runtime is asked first.
    public func state(refresh: Bool, _ done: @escaping (Result<ContainerSnapshot, CoreError>) -> Void) {
        guard let container, refresh else { return done(.success(snapshot)) }
        container.refreshFromRuntime { result in done(result.map { container.snapshot }) }
    }

    public func kill(signal: Int32, all: Bool, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        switch existing("kill") {
        case .failure(let e): done(.failure(e))
        case .success(let c): c.kill(signal: signal == 0 ? SIGTERM : signal, all: all, done)
        }
    }

    public func stop(timeoutSeconds: UInt32, signal: Int32, all: Bool,
                     _ done: @escaping (Result<(ContainerExit, escalated: Bool), CoreError>) -> Void) {
        switch existing("stop") {
        case .failure(let e): done(.failure(e))
        case .success(let c): c.stop(timeoutSeconds: timeoutSeconds, signal: signal, all: all, done)
        }
    }

    public func delete(force: Bool, _ done: @escaping (Result<ContainerExit?, CoreError>) -> Void) {
        switch existing("delete") {
        case .failure(let e): done(.failure(e))
        case .success(let c):
            c.delete(force: force) { [self] result in
                if case .success = result { removeShimFiles() }
                done(result)
            }
        }
    }

    public func pause(_ done: @escaping (Result<Void, CoreError>) -> Void) {
        switch existing("pause") {
        case .failure(let e): done(.failure(e))
        case .success(let c): c.pause(done)
        }
    }

    public func resume(_ done: @escaping (Result<Void, CoreError>) -> Void) {
        switch existing("resume") {
        case .failure(let e): done(.failure(e))
        case .success(let c): c.resume(done)
        }
    }

    public func update(resourcesJSON: String, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        switch existing("update") {
        case .failure(let e): done(.failure(e))
        case .success(let c): c.update(resourcesJSON: resourcesJSON, done)
        }
    }

    /// Checkpoint (Container+Checkpoint.swift).
    public func checkpoint(_ options: CheckpointOptions, _ done: @escaping (Result<CheckpointOutcome, CoreError>) -> Void) {
        switch existing("checkpoint") {
        case .failure(let e): done(.failure(e))
        case .success(let c): c.checkpoint(options, done)
        }
    }

    /// Calls `done` once the container has exited (at once if it has).
    /// Returns a cancel closure for callers that go away.
    public func wait(_ done: @escaping (Result<ContainerExit, CoreError>) -> Void) -> () -> Void {
        switch existing("wait") {
        case .failure(let e):
            done(.failure(e))
            return {}
        case .success(let c):
            let token = c.onExit { done(.success($0)) }
            return { [weak c] in c?.cancelExitWait(token) }
        }
    }

    /// Calls `done` once the container has exited and its exit command (if
    /// any) has finished: nil when there was none or it could not start.
    /// conmon's monitor lives until then; a conmon front end does the same.
    public func afterExitCommand(_ done: @escaping (Result<Termination?, CoreError>) -> Void) {
        switch existing("wait for the exit command") {
        case .failure(let e): done(.failure(e))
        case .success(let c): c.afterExitCommand { done(.success($0)) }
        }
    }

    public func reopenLog(_ done: @escaping (Result<Void, CoreError>) -> Void) {
        switch existing("reopen the log") {
        case .failure(let e): done(.failure(e))
        case .success(let c):
            guard let logger = c.logger else { return done(.failure(.precondition("container \(containerID) has no open log"))) }
            do throws(CoreError) { try logger.reopen(); done(.success(())) } catch { done(.failure(error)) }
        }
    }

    // --- paths -------------------------------------------------------------------

    /// The seed's path helpers; before Create they use the shim's defaults.
    public var paths: ContainerPaths {
        container?.paths ?? ContainerPaths(id: containerID, stateDir: config.stateDir, options: CreateOptions(bundle: "."))
    }

    // --- signals to the shim -----------------------------------------------------

    /// SIGTERM or SIGINT to the shim. As conmon does, a running container
    /// gets the signal (the shim then records its exit and stays for the
    /// engine); without one the shim should exit. Returns whether to exit.
    public func terminationSignal(_ signal: Int32) -> Bool {
        guard let container, [.created, .running, .paused].contains(container.status), container.pid > 0 else {
            return !holdsContainer
        }
        log.info("forwarding signal \(signal) to container \(containerID) (pid \(container.pid))")
        Glibc.kill(container.pid, signal)
        return false
    }

    /// At shim exit: leave the cgroup the shim placed itself in, and remove
    /// it if no other shim shares it.
    public func leaveShimCgroup() {
        guard let parent = context.placedCgroupParent else { return }
        let removal = CgroupPlacement.remove(parent: parent, evacuating: getpid())
        if !removal.kept.isEmpty { log.debug("shim cgroup kept: \(removal.kept.joined(separator: "; "))") }
    }

    // --- files -------------------------------------------------------------------

    private func persist() {
        store.scheduleWrite { [weak self] in
            guard let self else { return (nil, [:], []) }
            var paths = ["exitFile": self.paths.exitFile, "attachSocket": self.paths.attachSocket]
            if let c = self.container {
                paths["bundle"] = c.paths.bundle
                if let log = c.logFilePath { paths["log"] = log }
            }
            return (self.container?.snapshot, paths, self.events.retained)
        }
    }

    private func closeKeptFDs() {
        for fd in config.keepFDs { close(fd) }
    }

    /// After Delete: the shim's files go; a log at an engine-given path and
    /// exit files outside the state dir stay (they are the engine's).
    private func removeShimFiles() {
        store.stop()
        for name in ["state.json", "pidfile", "runtime", "sockets", "exits", "ctr.log", "console.sock"] {
            try? FileSystem.removeTree(FileSystem.join(config.stateDir, name))
        }
        onContainerGone?()
    }
}
