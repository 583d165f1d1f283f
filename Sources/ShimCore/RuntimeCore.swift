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
    /// Called when the shim has nothing left to hold (container deleted).
    public var onContainerGone: (() -> Void)?

    /// Told when reading a process's output fails (CoreContext.outputReadFailed).
    public var onOutputReadFailed: ((_ execID: String?, _ stream: LogStream, _ errno: Int32) -> Void)? {
        get { context.outputReadFailed }
        set { context.outputReadFailed = newValue }
    }

    /// Resolves the runtime and validates the configuration; an error here is
    /// a start-up error of the shim.
    /// `processes`: the shim's reaper (tests give a table whose exits they
    /// decide); `makeRuntime`: builds a container's runtime (default: the
    /// runtime's command line).
    public convenience init(config: ShimConfig, loop: EventLoop, processes: any ProcessTable, scratch: ScratchBuffer) throws(CoreError) {
        try self.init(config: config, loop: loop, processes: processes, scratch: scratch, makeRuntime: nil)
    }

    init(config: ShimConfig, loop: EventLoop, processes: any ProcessTable, scratch: ScratchBuffer,
         makeRuntime: RuntimeFactory?) throws(CoreError) {
        try ShimConfig.validateContainerID(config.containerID)
        try RuntimeLocator.validateCgroupManager(config.cgroupManager)
        self.config = config
        self.runtime = try RuntimeLocator.resolve(config.runtime)
        let environment = RuntimeEnvironment.fromProcess()
        context = CoreContext(config: config, runtime: runtime, loop: loop, processes: processes, scratch: scratch,
                              events: events, environment: environment, makeRuntime: makeRuntime)
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

    /// True while the shim has a container to keep alive for: being
    /// created, or created and not deleted. Without one, the shim may exit
    /// when its last client leaves.
    public var holdsContainer: Bool {
        guard let kind = container?.phase.kind else { return false }
        return kind != .none && kind != .deleted
    }

    // --- lifecycle ---------------------------------------------------------------

    /// Creates (or restores) the container. `beforeRuntime`: called once
    /// the shim's own files for it are in place (stdio, log, attach
    /// endpoints), right before the runtime runs, for a front end's own
    /// files; throwing fails the create with that error, as the runtime's
    /// failure would.
    public func create(_ options: CreateOptions, beforeRuntime: (() throws(CoreError) -> Void)? = nil,
                       _ done: @escaping (Result<Int32, CoreError>) -> Void) {
        // The relayed stdio fds are the core's from here: a refusal closes them.
        let refuse = { (error: CoreError) in
            options.relayedStdio?.closeAll()
            done(.failure(error))
        }
        if let container, container.phase.kind == .creating {
            return refuse(.precondition("container \(containerID) is being created"))
        }
        if let container, holdsContainer {
            return refuse(CoreError(.alreadyExists, "container \(containerID) already exists (\(container.status.rawValue))"))
        }
        let bundleConfig: BundleConfig
        let settings: RuntimeSettings
        do {
            let bundle = FileSystem.absolute(options.bundle)
            bundleConfig = options.readBundleConfig ? try BundleConfig.load(bundle: bundle)
                                                    : BundleConfig(bundle: bundle, document: .object([]))
            settings = try runtimeSettings(for: options)
        } catch {
            return refuse(error)
        }
        let created = Container(id: containerID, options: options, bundleConfig: bundleConfig, context: context,
                                runtime: context.makeRuntime(settings))
        container = created
        created.onChange = { [unowned self] in persist() }
        store.runtime = settings
        created.create(beforeRuntime: beforeRuntime) { [self] result in
            switch result {
            case .success:
                // The container is gone with its exit: close what the engine
                // asked the shim to hold for its life.
                created.initProcess?.onExit { [unowned self] _ in closeKeptFDs() }
            case .failure:
                if container === created { container = nil }
                persist()
            }
            done(result)
        }
    }

    /// Joins a running container that another monitor created and watches,
    /// to run exec sessions in it only (a monitor per exec session, as
    /// conmon's exec mode): the runtime names its bundle and init pid.
    /// `options` carry the runtime settings and the socket dir; their bundle
    /// is replaced by the runtime's. The container's own exit is not this
    /// shim's to watch or record.
    ///
    /// `askRuntime: false` takes the engine's word that the container runs
    /// (conmon's exec mode asks nothing and lets `runc exec` say otherwise):
    /// no init pid is known (0), and `options.bundle` stands for its bundle;
    /// exec sessions then need a process spec of their own.
    public func joinForExecs(_ options: CreateOptions, askRuntime: Bool = true,
                             _ done: @escaping (Result<Int32, CoreError>) -> Void) {
        if container != nil {
            return done(.failure(.precondition("container \(containerID) is already held by this shim")))
        }
        let settings: RuntimeSettings
        do { settings = try runtimeSettings(for: options) } catch { return done(.failure(error)) }
        let runtime = context.makeRuntime(settings)
        guard askRuntime else {
            let joined = Container(id: containerID, options: options,
                                   bundleConfig: BundleConfig(bundle: options.bundle, document: .object([])),
                                   context: context, runtime: runtime)
            container = joined
            joined.onChange = { [unowned self] in persist() }
            joined.adoptRunning(pid: 0)
            return done(.success(0))
        }
        runtime.state(containerID) { [self] result in
            switch result {
            case .failure(let error):
                done(.failure(error))
            case .success(nil):
                done(.failure(CoreError(.noSuchContainer, "container \(containerID) does not exist in \(runtime.name)")))
            case .success(let state?):
                guard state.status == "running", state.pid > 0 else {
                    return done(.failure(.precondition("cannot exec in container \(containerID): it is \(state.status), not running")))
                }
                var adopted = options
                adopted.bundle = state.bundle
                let bundleConfig: BundleConfig
                do throws(CoreError) { bundleConfig = try BundleConfig.load(bundle: state.bundle) } catch { return done(.failure(error)) }
                let running = Container(id: containerID, options: adopted, bundleConfig: bundleConfig,
                                        context: context, runtime: runtime)
                container = running
                running.onChange = { [unowned self] in persist() }
                running.adoptRunning(pid: state.pid)
                done(.success(state.pid))
            }
        }
    }

    /// The runtime invocation settings for this container: the shim's
    /// runtime unless Create names another, its root, cgroup mode, options.
    private func runtimeSettings(for options: CreateOptions) throws(CoreError) -> RuntimeSettings {
        var resolved = runtime
        if let path = options.runtimePath, !path.isEmpty {
            // An engine that takes the runtime's own errors (conmon's) learns
            // of a path that cannot be run by running it (status 127), as
            // conmon checks no more than access(X_OK).
            let runnable = options.runtimeErrorsOnStderr ? access(path, X_OK) == 0 : FileSystem.isExecutableFile(path)
            guard runnable else {
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
        settings.jsonErrors = config.features.json.contains(resolved.name) && !options.runtimeErrorsOnStderr
        return settings
    }

    /// The container, for the extensions (nil before Create).
    var currentContainer: Container? { container }

    /// The container, for an operation that needs one.
    func existing(_ operation: String) throws(CoreError) -> Container {
        guard let container else {
            throw .precondition("cannot \(operation): no container has been created in this shim")
        }
        return container
    }

    /// Runs `body` on the container, or answers the error.
    private func withContainer<T>(_ operation: String, _ done: @escaping (Result<T, CoreError>) -> Void,
                                  _ body: (Container) -> Void) {
        do throws(CoreError) { body(try existing(operation)) } catch { done(.failure(error)) }
    }

    public func start(_ done: @escaping (Result<(pid: Int32, startedAt: Int64), CoreError>) -> Void) {
        withContainer("start", done) { c in c.start { done($0.map { (c.initProcess?.pid ?? 0, $0) }) } }
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

    public func delete(force: Bool, _ done: @escaping (Result<ProcessExit?, CoreError>) -> Void) {
        withContainer("delete", done) { c in
            c.delete(force: force) { [self] result in
                if case .success = result { removeShimFiles() }
                done(result)
            }
        }
    }

    public func pause(_ done: @escaping (Result<Void, CoreError>) -> Void) {
        withContainer("pause", done) { c in c.pause(done) }
    }


    public func resume(_ done: @escaping (Result<Void, CoreError>) -> Void) {
        withContainer("resume", done) { c in c.resume(done) }
    }


    public func update(resourcesJSON: String, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        withContainer("update", done) { c in c.update(resourcesJSON: resourcesJSON, done) }
    }


    /// Checkpoint (Container+Checkpoint.swift).
    public func checkpoint(_ options: CheckpointOptions, _ done: @escaping (Result<CheckpointOutcome, CoreError>) -> Void) {
        withContainer("checkpoint", done) { c in c.checkpoint(options, done) }
    }

    /// Reopens the container's log, or (with `execID`) an exec session's
    /// (ExecOptions.log), as each is configured (LogConfig.reopenStartsOver).
    public func reopenLog(execID: String? = nil, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        withContainer("reopen the log", done) { c in
            if let execID {
                do throws(CoreError) { try c.execs.session(execID).reopenLog(); done(.success(())) } catch {
                    done(.failure(error))
                }
                return
            }
            guard let logger = c.logger else { return done(.failure(.precondition("container \(containerID) has no open log"))) }
            do throws(CoreError) { try logger.reopen(); done(.success(())) } catch { done(.failure(error)) }
        }
    }

    // --- paths -------------------------------------------------------------------

    /// podman's path helpers; before Create they use the shim's defaults.
    public var paths: ContainerPaths {
        container?.paths ?? ContainerPaths(id: containerID, stateDir: config.stateDir, options: CreateOptions(bundle: "."))
    }

    // --- signals to the shim -----------------------------------------------------

    /// SIGTERM or SIGINT to the shim. As conmon does, a running container
    /// gets the signal (the shim then records its exit and stays for the
    /// engine); without one the shim should exit. Returns whether to exit.
    public func terminationSignal(_ signal: Int32) -> Bool {
        guard let container, container.phase.isLive, let process = container.initProcess, process.isRunning else {
            return !holdsContainer
        }
        log.info("forwarding signal \(signal) to container \(containerID) (pid \(process.pid))")
        process.signalDirectly(signal)
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
        for fd in config.keepFDs { try? fd.close() }
    }

    /// After Delete: the shim's files go; a log at an engine-given path and
    /// exit files outside the state dir stay (they are the engine's).
    private func removeShimFiles() {
        store.stop()
        // attach, ctl, winsz and oom are there when the state dir is the
        // endpoints dir (CreateOptions.endpointsDir).
        for name in ShimStateFile.fileNames + ["pidfile", "runtime", "sockets", "exits", "ctr.log", "console.sock",
                                               "attach", "ctl", "winsz", "oom"] {
            try? FileSystem.removeTree(FileSystem.join(config.stateDir, name))
        }
        onContainerGone?()
    }
}
