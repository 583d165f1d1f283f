import Glibc
import ShimSystem

extension Container {
    /// podman's ConmonOCIRuntime.CheckpointContainer: `runc checkpoint
    /// --image-path I --work-path W [--leave-running] [--tcp-established] ID`
    /// with the container's process label as the socket creation label.
    ///
    /// Without leave-running, CRIU kills the dumped tree and runc forgets the
    /// container: the monitor records the init's end as usual (the code it
    /// really saw, 137 for runc's SIGKILL), marks it `checkpointed`, and
    /// answers once it has done so, with the container stopped. With
    /// leave-running the container goes on and is reported running (or
    /// paused: a paused container can be checkpointed, as containerd does
    /// between its Pause and Resume, and stays paused).
    func checkpoint(_ options: CheckpointOptions, _ done: @escaping (Result<CheckpointOutcome, CoreError>) -> Void) {
        do throws(CoreError) {
            try check(.checkpoint)
            try Self.requireAbsolute(options.imagePath, "checkpoint image path")
            if let work = options.workPath { try Self.requireAbsolute(work, "checkpoint work path") }
            // As podman does before the runtime call; a no-op without SELinux.
            try SELinux.setSocketCreateLabel(self.options.processLabel)
        } catch {
            return done(.failure(error))
        }
        move(to: .checkpointing(CheckpointProgress(leaveRunning: options.leaveRunning, fromPaused: phase.kind == .paused)))
        log.info("container \(id): \(runtime.name) checkpoint to \(options.imagePath)\(options.leaveRunning ? ", leaving it running" : "")")
        var request = RuntimeCheckpoint(id: id, imagePath: options.imagePath, workPath: options.workPath ?? paths.bundle)
        request.leaveRunning = options.leaveRunning
        request.tcpEstablished = options.tcpEstablished
        request.fileLocks = options.fileLocks
        request.extraArgs = options.runtimeArgs
        runtime.checkpoint(request) { [self] result in
            checkpointFinished(result, leaveRunning: options.leaveRunning, done)
        }
        // The runtime has been forked (or failed to be) by now. The label is
        // per thread and the shim has one thread: reset it at once so that
        // the shim's own sockets (clients, attach) keep the default label.
        do throws(CoreError) { try SELinux.setSocketCreateLabel(nil) } catch {
            log.warning("container \(id): \(error.message)")
        }
    }

    private func checkpointFinished(_ result: Result<Void, CoreError>, leaveRunning: Bool,
                                    _ done: @escaping (Result<CheckpointOutcome, CoreError>) -> Void) {
        guard let process = initProcess else { return done(.failure(.internal("container \(id) has no init"))) }
        guard case .checkpointing(var progress) = phase else {
            // Left running, and the init ended meanwhile: its exit is an
            // ordinary one, already recorded.
            return done(result.map { CheckpointOutcome(status: status, exit: process.exit) })
        }
        let held = progress.heldExit
        switch result {
        case .failure(let error):
            log.warning("container \(id): checkpoint failed: \(error.message)")
            move(to: progress.phaseAfter)
            // An end seen meanwhile was not the checkpoint's.
            if let held { process.recordExit(code: held) }
            done(.failure(error))
        case .success:
            context.emit(.checkpointed) { [pid = process.pid] in
                $0.pid = pid
                $0.message = leaveRunning ? "checkpointed, left running" : "checkpointed, stopped"
            }
            if leaveRunning {
                move(to: progress.phaseAfter)
                return done(.success(CheckpointOutcome(status: status, exit: process.exit)))
            }
            progress.dumped = true
            progress.heldExit = nil
            move(to: .checkpointing(progress))
            if let held { process.recordExit(code: held, checkpointed: true) }
            awaitCheckpointedExit(process, done)
        }
    }

    /// Answers once the checkpointed init's end is recorded. CRIU has killed
    /// it already; one that is somehow still alive after the kill grace is
    /// killed by pid (the runtime no longer knows it), and the call fails if
    /// even that is not seen.
    private func awaitCheckpointedExit(_ process: MonitoredProcess,
                                       _ done: @escaping (Result<CheckpointOutcome, CoreError>) -> Void) {
        let grace = context.config.killGraceSeconds
        let steps: [ExitEscalation.Step] = [.init(wait: grace), .init(send: .direct(SIGKILL), wait: grace, escalates: true)]
        ExitEscalation.run(on: process, steps: steps,
                           atTheEnd: .fail("container \(id) was checkpointed but its init \(process.pid) has not exited")) { [self] result, escalated in
            if escalated { log.warning("container \(id): init \(process.pid) outlived its checkpoint; killed") }
            done(result.map { exit in CheckpointOutcome(status: status, exit: exit) })
        }
    }

    static func requireAbsolute(_ path: String, _ what: String) throws(CoreError) {
        guard path.hasPrefix("/") else {
            throw .invalid("the \(what) must be absolute (the shim's working directory is not the engine's): \"\(path)\"")
        }
    }
}

extension RestoreOptions {
    /// Before `runc restore`: the paths are the engine's and must not depend
    /// on the shim's working directory.
    func validate() throws(CoreError) {
        try Container.requireAbsolute(imagePath, "restore image path")
        if let workPath { try Container.requireAbsolute(workPath, "restore work path") }
    }
}
