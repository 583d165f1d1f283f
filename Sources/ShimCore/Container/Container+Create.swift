import Glibc
import ShimSystem

extension Container {
    /// The seed's CreateContainer/createOCIContainer, done in the shim: the
    /// runtime's `create` (or `restore`) with the container's stdio on fds the
    /// shim owns, then the monitor takes over. On failure nothing is left
    /// behind: no runtime state, no process, no open fd.
    func create(_ done: @escaping (Result<Int32, CoreError>) -> Void) {
        let prepared: PreparedCreate
        do {
            prepared = try prepare()
        } catch {
            releaseResources()
            return done(.failure(error))
        }
        let operation = options.restore == nil ? "create" : "restore"
        log.info("container \(id): \(driver.runtimeName) \(operation) in \(paths.bundle)")
        driver.run(prepared.call) { [self] result in
            io?.runtimeFinished()
            switch result {
            case .failure(let error) where error.kind == .deadlineExceeded:
                // Killed mid-way, the runtime could not clean up after
                // itself. It got that far, so the id was free: what it
                // left is this create's.
                abandonCreate(error, runtime: .remove, done)
            case .failure(let error):
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
                    done(.success(pid))
                } catch {
                    abandonCreate(error, runtime: .remove, done)
                }
            }
        }
    }

    private struct PreparedCreate {
        var call: RuntimeCall
    }

    /// Everything before the runtime runs: directories, log, ports, stdio,
    /// user namespace access, labels, cgroup placement of the shim.
    private func prepare() throws(CoreError) -> PreparedCreate {
        if options.terminal && !bundleConfig.terminal {
            throw .invalid("Create asks for a terminal but \(paths.bundle)/config.json has process.terminal false")
        }
        let terminal = bundleConfig.terminal
        _ = try DetachKeys.parse(options.detachKeys)
        try options.restore?.validate()
        for dir in [paths.exitDir, paths.runtimeLogDir] + (paths.persistDir.map { [$0] } ?? []) {
            do { try FileSystem.createDirectory(dir, mode: 0o700) } catch {
                throw .invalid("cannot create directory \(dir): \(error)")
            }
        }
        guard access(paths.exitDir, W_OK) == 0 else {
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
        if !options.passthroughStdio.isEmpty {
            if terminal { throw .invalid("passthrough stdio cannot be used with a terminal (process.terminal is true)") }
            io = try ContainerIO.passthrough(options.passthroughStdio)
        } else {
            io = terminal ? try ContainerIO.terminal(socketDir: context.config.stateDir)
                          : try ContainerIO.pipes(stdin: options.stdin)
        }

        var call = options.restore.map { restoreCall($0) } ?? createCall()
        call.captureOutput = terminal
        if !terminal { call.extraFds = io!.runtimeStdio }
        let listenFDs = context.config.listenFDs
        if listenFDs > 0 {
            // Socket activation: the engine's fds 3.. go to the runtime at the
            // same numbers; it hands them to the container.
            call.extraFds += (0..<listenFDs).map { (Int32(3 + $0), Int32(3 + $0)) }
            call.extraEnvironment.append("LISTEN_FDS=\(listenFDs)")
        }
        call.extraEnvironment += options.runtimeEnvironment

        let unshare = try prepareUserNamespaceAccess()
        let execLabel = try SELinux.runtimeExecLabel()
        call.configure = { spawn in
            spawn.listenPidEnvironment = listenFDs > 0
            spawn.unshareSysKernel = unshare
            if let execLabel {
                spawn.execLabel = execLabel
                spawn.setExecCon = SELinux.setExecCon
            }
        }
        placeShimInCgroup()
        return PreparedCreate(call: call)
    }

    private func createCall() -> RuntimeCall {
        var args = ["create", "--bundle", paths.bundle, "--pid-file", paths.pidFile]
        if let socket = io?.consoleSocketPath { args += ["--console-socket", socket] }
        if options.noPivot { args.append("--no-pivot") }
        if options.noNewKeyring { args.append("--no-new-keyring") }
        args += options.runtimeCreateArgs
        args.append(id)
        return RuntimeCall("create", args)
    }

    private func restoreCall(_ restore: RestoreOptions) -> RuntimeCall {
        var args = ["restore", "--detach", "--bundle", paths.bundle, "--pid-file", paths.pidFile,
                    "--image-path", restore.imagePath, "--work-path", restore.workPath ?? paths.bundle]
        if restore.tcpEstablished { args.append("--tcp-established") }
        if restore.fileLocks { args.append("--file-locks") }
        if let socket = io?.consoleSocketPath { args += ["--console-socket", socket] }
        if options.noPivot { args.append("--no-pivot") }
        if options.noNewKeyring { args.append("--no-new-keyring") }
        args += restore.runtimeArgs + options.runtimeCreateArgs
        args.append(id)
        return RuntimeCall("restore", args)
    }

    private func logConfig() -> LogConfig {
        let drivers = options.log.drivers.isEmpty
            ? [LogDriverKind.k8sFile(path: ContainerPaths.defaultLog(stateDir: context.config.stateDir))]
            : options.log.drivers
        return LogConfig(drivers: drivers, sizeMax: options.log.sizeMax, maxFiles: options.log.maxFiles,
                         tag: options.log.tag, containerID: id,
                         containerName: options.log.containerName)
    }

    /// The seed's hasCurrentUserMapped/makeAccessible: when the container's
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

    /// The seed's moveConmonToCgroupAndSignal for the shim itself.
    private func placeShimInCgroup() {
        let manager = options.cgroupManager ?? context.config.cgroupManager
        let outcome = CgroupPlacement.place(pid: getpid(), parent: options.cgroupParent,
                                            manager: manager, noCgroups: options.noCgroups)
        switch outcome {
        case .placed(let where_):
            log.debug("shim placed in \(where_.joined(separator: ", "))")
            context.placedCgroupParent = options.cgroupParent
        case .skipped(let why): log.debug("shim cgroup placement skipped: \(why)")
        case .failed(let why): log.warning("failed to add the shim to its cgroup: \(why)")
        }
    }

    /// After a successful runtime create: the pid, the terminal, the monitor.
    private func adoptCreatedContainer(restored: Bool) throws(CoreError) {
        guard let io else { throw .internal("container stdio vanished during create") }
        if io.mode == .terminal { try io.receiveTerminal() }
        pid = try readPidFile()
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
        io.startOutput(loop: context.loop, scratch: context.scratch,
                       sink: { [unowned self] stream, chunk in output(stream, chunk) },
                       finished: { [unowned self] in outputFinished() })
        let attach = try ContainerAttach(container: self, io: io)
        stdio = attach
        _ = onExit { [weak attach] exit in attach?.ended(exitCode: exit.exitCode) }
        let pid = self.pid
        context.reaper.onExit(of: pid) { [weak self] termination in self?.exited(termination) }
        let watcher = OOMWatcher(pid: pid, loop: context.loop) { [weak self] in self?.oomDetected() }
        if let why = watcher.unavailableReason { log.info("no OOM detection for container \(id): \(why)") }
        oomWatcher = watcher
        createdAt = Clock.realtimeNanos()
        if let shimPidFile = options.shimPidFile {
            try? FileSystem.writeAtomically(shimPidFile, "\(getpid())")
        }
        if restored {
            startedAt = createdAt
            startedEventSent = true
            transition(to: exitCode == nil ? .running : .stopped)
            context.emit(.restored) { $0.pid = pid }
        } else {
            transition(to: exitCode == nil ? .created : .stopped)
            context.emit(.created) { $0.pid = pid }
        }
    }

    private func readPidFile() throws(CoreError) -> Int32 {
        guard let text = try? FileSystem.readString(paths.pidFile),
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
    private func abandonCreate(_ error: CoreError, runtime: RuntimeLeftover,
                               _ done: @escaping (Result<Int32, CoreError>) -> Void) {
        log.warning("container \(id): create failed: \(error.message)")
        let finish = { [self] in
            if pid > 0 {
                Glibc.kill(pid, SIGKILL)
                context.reaper.forget(pid)
            }
            releaseResources()
            try? FileSystem.removeFile(paths.pidFile)
            done(.failure(error))
        }
        switch runtime {
        case .untouched:
            finish()
        case .remove:
            driver.delete(id, force: true) { _ in finish() }
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
