import Glibc
import ShimSystem

extension Container {
    /// podman's ConmonOCIRuntime.CreateContainer (createOCIContainer), done
    /// in the shim: the runtime's `create` (or `restore`) with the
    /// container's stdio on fds the shim owns, then the monitor takes over.
    /// On failure nothing this create made is left behind: no runtime
    /// state, no process, no open fd — and nothing it did not make is
    /// touched. (With CreateOptions.keepEndpointsAfterFailure the attach
    /// endpoints' files stay, their fds closed.)
    ///
    /// `beforeRuntime` runs once everything the shim makes before the
    /// runtime is in place (stdio, log, attach endpoints), right before the
    /// runtime is started: a front end adds its own files there, in their
    /// place in the order. Throwing fails the create as a failed runtime
    /// would, with that error.
    func create(beforeRuntime: (() throws(CoreError) -> Void)? = nil,
                _ done: @escaping (Result<Int32, CoreError>) -> Void) {
        do throws(CoreError) { try check(.create) } catch {
            options.relayedStdio?.closeAll()
            return done(.failure(error))
        }
        move(to: .creating)
        let request: RuntimeCreate
        do {
            request = try prepare()
        } catch {
            releaseResources()
            move(to: .none)
            return done(.failure(error))
        }
        if let beforeRuntime {
            do throws(CoreError) { try beforeRuntime() } catch {
                return abandonCreate(error, runtime: .untouched, done)
            }
        }
        let operation = options.restore == nil ? "create" : "restore"
        log.info("container \(id): \(runtime.name) \(operation) in \(paths.bundle)")
        runtime.create(request) { [self] result in
            io?.runtimeFinished()
            switch result {
            case .failure(let error) where error.kind == .deadlineExceeded:
                // Killed mid-way, the runtime could not clean up after
                // itself. It got that far, so the id was free: what it
                // left is this create's.
                abandonCreate(error, runtime: .remove, done)
            case .failure(var error):
                if error.runtimeOutput == nil, let output = io?.takeRuntimeStderr(), !output.isEmpty {
                    error.runtimeOutput = output
                }
                // A runtime that fails removes what it made (runc and crun
                // destroy a failed create's container). The id may belong
                // to another container ("container with id exists"): it is
                // never touched, and nothing else is run, so the engine's
                // runtime log (podman's --runtime-arg --log) keeps the
                // create's error as its last word.
                abandonCreate(error, runtime: .untouched, done)
            case .success:
                do throws(CoreError) {
                    try adoptCreatedContainer(restored: options.restore != nil)
                    done(.success(initProcess?.pid ?? 0))
                } catch {
                    abandonCreate(error, runtime: .remove, done)
                }
            }
        }
    }

    /// Everything before the runtime runs: directories, log, ports, stdio,
    /// user namespace access, labels, cgroup placement of the shim, and
    /// last the init's attach endpoints (conmon makes its attach socket and
    /// FIFOs right before it runs the runtime).
    private func prepare() throws(CoreError) -> RuntimeCreate {
        // First: from here on the relayed fds are the container's, and a
        // failure below closes them with everything else.
        if let relayed = options.relayedStdio {
            pendingRelay = StdioRelay(relayed, loop: context.loop, scratch: context.scratch, log: log, label: "container \(id)")
        }
        let terminal: Bool
        if options.readBundleConfig {
            if options.terminal && !bundleConfig.terminal {
                throw .invalid("Create asks for a terminal but \(paths.bundle)/config.json has process.terminal false")
            }
            terminal = bundleConfig.terminal
        } else {
            // The runtime gets a console socket exactly when asked; a
            // config.json that disagrees is the runtime's to refuse.
            terminal = options.terminal
        }
        detachKeys = try DetachKeys.parse(options.detachKeys.isEmpty ? DetachKeys.defaultSpec : options.detachKeys)
        try options.restore?.validate()
        let ownExitDir = paths.exitDirIsOwn
        for dir in (ownExitDir ? [] : [paths.exitDir]) + [paths.runtimeLogDir] + (paths.persistDir.map { [$0] } ?? []) {
            do { try FileSystem.createDirectory(dir, mode: 0o700) } catch {
                throw .invalid("cannot create directory \(dir): \(error)")
            }
        }
        guard ownExitDir || access(paths.exitDir, W_OK) == 0 else {
            throw .invalid("exit directory \(paths.exitDir) is not writable: \(SystemError("access"))")
        }
        try? FileSystem.removeFile(paths.pidFile)

        logger = try ContainerLogger(config: logConfig())
        logger?.onErrorChange = { [unowned self] error in
            context.emit(error == nil ? .logResumed : .logError) { $0.message = error ?? "" }
            onChange?()
        }
        if !options.reservePorts.isEmpty {
            ports = try PortReservation.reserve(options.reservePorts)
        }
        if let relayed = options.relayedStdio {
            if !options.providedStdio.isEmpty { throw .invalid("relayed and provided stdio cannot be used together") }
            if relayed.hasStdin && !options.stdin && !terminal {
                throw .invalid("a relayed stdin needs the container's stdin (CreateOptions.stdin)")
            }
        }
        let io: ContainerIO
        if !options.providedStdio.isEmpty {
            if terminal { throw .invalid("provided stdio cannot be used with a terminal (process.terminal is true)") }
            io = try ContainerIO.passthrough(options.providedStdio)
        } else {
            io = terminal ? try ContainerIO.terminal(socketDir: context.config.stateDir)
                          : try ContainerIO.pipes(stdin: options.stdin, owner: options.stdioOwner)
        }
        self.io = io

        var request = RuntimeCreate(id: id, bundle: paths.bundle, pidFile: paths.pidFile)
        request.stdio = RuntimeStdio(fds: terminal ? [] : io.runtimeStdio, consoleSocket: io.consoleSocketPath)
        request.restore = options.restore
        request.noPivot = options.noPivot
        request.noNewKeyring = options.noNewKeyring
        request.extraArgs = options.runtimeCreateArgs
        request.listenFDs = context.config.listenFDs
        request.passFDs = options.runtimeFDs
        request.environment = options.runtimeEnvironment
        let listenPid = request.listenFDs > 0 || options.runtimeListenPid
        let unshare = try prepareUserNamespaceAccess()
        let execLabel = try SELinux.runtimeExecLabel()
        request.configure = { spawn in
            spawn.listenPidEnvironment = listenPid
            spawn.unshareSysKernel = unshare
            if let execLabel {
                spawn.execLabel = execLabel
                spawn.setExecCon = SELinux.setExecCon
            }
        }
        placeShimInCgroup()
        preparedInit = try makeInitProcess(terminal: terminal, stdin: terminal || (io.hasStdin && options.stdin))
        return request
    }

    private func logConfig() -> LogConfig {
        options.log.config(containerID: id, defaultPath: ContainerPaths.defaultLog(stateDir: context.config.stateDir))
    }

    /// podman's hasCurrentUserMapped/makeAccessible: when the container's
    /// user namespace does not map the shim's uid, its root must still reach
    /// the bundle and the shim's files. Returns whether to create in a private
    /// mount namespace without /sys/kernel mounts (non-privileged, as root).
    private func prepareUserNamespaceAccess() throws(CoreError) -> Bool {
        let uids = options.uidMappings.isEmpty ? bundleConfig.uidMappings : options.uidMappings
        let gids = options.gidMappings.isEmpty ? bundleConfig.gidMappings : options.gidMappings
        guard !UserNamespaceAccess.hasCurrentUserMapped(uidMappings: uids, gidMappings: gids, euid: geteuid()) else {
            return false
        }
        let root = UserNamespaceAccess.rootIDs(uidMappings: uids, gidMappings: gids)
        for path in [context.config.stateDir, paths.bundle] + options.makeAccessible {
            try UserNamespaceAccess.makeAccessible(path, uid: root.uid, gid: root.gid)
        }
        return !options.privileged && geteuid() == 0
    }

    /// podman's moveConmonToCgroupAndSignal for the shim itself.
    private func placeShimInCgroup() {
        let manager = options.cgroupManager ?? context.config.cgroupManager
        let outcome = CgroupPlacement.place(pid: getpid(), parent: options.cgroupParent,
                                            manager: manager, noCgroups: options.noCgroups, containerID: id)
        switch outcome {
        case .placed(let where_):
            log.debug("shim placed in \(where_.joined(separator: ", "))")
            // systemd removes an empty scope itself; a `<parent>/conmon`
            // leaf is the shim's to remove at exit.
            if manager != "systemd" { context.placedCgroupParent = options.cgroupParent }
        case .skipped(let why): log.debug("shim cgroup placement skipped: \(why)")
        case .failed(let why): log.warning("failed to add the shim to its cgroup: \(why)")
        }
    }

    /// After a successful runtime create: the pid, the terminal, the init
    /// as a monitored process with its attach endpoints, the OOM watch.
    private func adoptCreatedContainer(restored: Bool) throws(CoreError) {
        guard let io else { throw .internal("container stdio vanished during create") }
        if io.mode == .terminal { try io.receiveTerminal() }
        let pid = try readPidFile()
        if !restored && io.mode == .pipes {
            // The init is parked until `start`: whatever is in the pipes now
            // came from the runtime itself (warnings on the stdio it shares
            // with the container), not from the container.
            io.startOutput(loop: context.loop, scratch: context.scratch,
                           sink: { [unowned self] stream, chunk in
                               log.warning("runtime said on container \(stream): \(String(decoding: chunk, as: UTF8.self))")
                           }, finished: {})
            io.drainOutput()
            io.stopOutput()
        }
        guard let process = preparedInit else { throw .internal("the container's init vanished during create") }
        connectInitStdio(process, io: io)
        preparedInit = nil
        initProcess = process
        if let relay = pendingRelay {
            pendingRelay = nil
            process.relayStdio(relay)
            process.connectRelayedStdin()
        }
        createdAt = Clock.realtimeNanos()
        process.began(pid: pid, startedAt: restored ? createdAt : 0)
        process.startOutput()
        let watcher = OOMWatcher(pid: pid, loop: context.loop) { [weak self] in self?.oomDetected() }
        if let why = watcher.unavailableReason { log.info("no OOM detection for container \(id): \(why)") }
        oomWatcher = watcher
        if let shimPidFile = options.shimPidFile {
            try? FileSystem.writeAtomically(shimPidFile, "\(getpid())")
        }
        move(to: restored ? .running : .created)
        context.emit(restored ? .restored : .created) { $0.pid = pid }
    }

    /// The init as attach clients and the engine see it, before it exists:
    /// the hub, conmon's attach socket and control FIFOs in the endpoints
    /// dir (the bundle, unless the front end named another), the exit files
    /// and exit command. Its stdio is connected once the runtime has made
    /// it (`connectInitStdio`).
    private func makeInitProcess(terminal: Bool, stdin: Bool) throws(CoreError) -> MonitoredProcess {
        let hub = AttachHub(label: "container \(id)", terminal: terminal, stdin: stdin,
                            closeStdinOnClientEOF: options.stdin && !options.leaveStdinOpen,
                            backlogCapacity: nil, loop: context.loop, log: context.log)
        let process = MonitoredProcess(execID: nil, label: "container \(id)", hub: hub,
                                       delivery: .runtime(runtime, containerID: id), context: context)
        process.owner = self
        process.exitFiles = [paths.exitFile] + (paths.persistDir.map { [FileSystem.join($0, "exit")] } ?? [])
        if paths.exitDirIsOwn { process.exitDirToMake = paths.exitDir }
        if !options.exitCommand.isEmpty {
            process.exitCommand = ExitCommandSpec(argv: options.exitCommand, delaySeconds: options.exitDelaySeconds)
        }
        var layout = AttachEndpoints.Layout(dir: paths.endpointsDir, socketDir: paths.socketDir, linkName: paths.attachLinkName,
                                            fullAttach: paths.fullAttach, controlFIFO: options.controlFIFOs,
                                            windowSizeFIFO: terminal && options.controlFIFOs)
        layout.attachSocket = options.attachSocket
        layout.linkStays = options.attachLinkStays
        layout.acceptBeforeProcess = !options.attachClientsWaitForProcess
        if layout.attachSocket || layout.controlFIFO {
            process.endpoints = try AttachEndpoints(layout, hub: hub, context: context) { [weak self] command in
                self?.control(command)
            }
        }
        return process
    }

    /// The runtime made the init: its stdin and terminal behind the hub.
    private func connectInitStdio(_ process: MonitoredProcess, io: ContainerIO) {
        let hub = process.hub
        hub.stdin?.onClose = { [weak io] in io?.closeStdin() }
        if let stdinFD = io.stdinFD { hub.stdin?.connect(stdinFD) }
        if io.mode == .terminal {
            hub.resizer = { [weak io] rows, columns throws(CoreError) in
                guard let io else { throw .precondition("the container's terminal is closed") }
                try io.resize(rows: rows, columns: columns)
            }
        }
        process.io = io
    }

    /// A line from the control FIFOs (`<endpoints dir>/ctl`, `winsz`).
    private func control(_ command: ControlCommand) {
        switch command {
        case .resize(let rows, let columns):
            do throws(CoreError) { try initProcess?.resize(rows: rows, columns: columns) } catch {
                log.warning("container \(id): resize from the control FIFO: \(error)")
            }
        case .reopenLog:
            do throws(CoreError) { try logger?.reopen() } catch {
                log.warning("container \(id): reopening the log: \(error)")
            }
        }
    }

    private func readPidFile() throws(CoreError) -> Int32 {
        guard let text = try? FileSystem.readString(paths.pidFile, limit: 64),
              let pid = Int32(text.trimmingNewlines), pid > 0 else {
            throw .internal("the runtime succeeded but left no valid pid file at \(paths.pidFile)")
        }
        return pid
    }

    /// What a failed create does about the runtime's container of this id.
    enum RuntimeLeftover {
        /// The runtime made it: delete it (with its process).
        case remove
        /// Not this create's to delete (or already gone).
        case untouched
    }

    /// Undoes a failed create: only what this create made goes (its runtime
    /// container as `runtime` says, its process, fds and pid file).
    private func abandonCreate(_ error: CoreError, runtime leftover: RuntimeLeftover,
                               _ done: @escaping (Result<Int32, CoreError>) -> Void) {
        log.warning("container \(id): create failed: \(error.message)")
        let finish = { [self] in
            let process = initProcess ?? preparedInit
            process?.abandon()
            process?.release(keepingEndpointFiles: options.keepEndpointsAfterFailure)
            preparedInit = nil
            releaseResources()
            initProcess = nil
            try? FileSystem.removeFile(paths.pidFile)
            move(to: .none)
            done(.failure(error))
        }
        switch leftover {
        case .untouched:
            finish()
        case .remove:
            runtime.delete(id, force: true) { _ in finish() }
        }
    }
}

extension String {
    var trimmingNewlines: String {
        var s = Substring(self)
        while let c = s.last, c == "\n" || c == " " || c == "\r" { s = s.dropLast() }
        while let c = s.first, c == "\n" || c == " " { s = s.dropFirst() }
        return String(s)
    }
}
